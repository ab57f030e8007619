"""Synthetic cell residuals for the few-shot patch benches' tests (``bench/few_shot_patch.py``,
``bench/few_shot_cells.py``): whitened goods and defects whose cells are known."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import few_shot_patch as fsp

SIDE, C = 8, 16

__all__ = ["SIDE", "C", "lifted_block_data"]


def lifted_block_data(rng: np.random.Generator, n_bad: int = 6) -> fsp.PatchData:
    """Whitened goods (unit noise); each defect lifts a 2x2 block of cells along channel 3."""
    resid = {
        g: rng.standard_normal((n, SIDE * SIDE, C)).astype(np.float16)
        for g, n in (("hold", 40), ("test", 20))
    }
    bad = rng.standard_normal((n_bad, SIDE * SIDE, C))
    cover = np.zeros((n_bad, SIDE * SIDE))
    for i in range(n_bad):
        cells = [
            (2 + i % 4) * SIDE + 3,
            (2 + i % 4) * SIDE + 4,
            (3 + i % 4) * SIDE + 3,
            (3 + i % 4) * SIDE + 4,
        ]
        bad[i, cells, 3] += 6.0
        cover[i, cells] = 1.0
    resid["bad"] = bad.astype(np.float16)
    return fsp.patch_data(resid, cover)
