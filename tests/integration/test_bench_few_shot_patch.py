"""``bench/few_shot_patch.py``: the defect subspace finds the directions defect patches use,
the mask cells mark the defect, and the patch evidence's weight stays 0 when it does not help."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from tests.support.patch_data import SIDE, C, lifted_block_data

import few_shot_patch as fsp


def test_quad_subspace_finds_the_defect_channel() -> None:
    pd = lifted_block_data(np.random.default_rng(0))
    proj = fsp.fit_projection(pd, fsp.defect_patches(pd, np.arange(6)), "quad", rank=1, alpha=0.1)
    u = proj.basis[:, 0] / np.linalg.norm(proj.basis[:, 0])
    assert abs(u[3]) > 0.95, u
    lin = fsp.fit_projection(pd, fsp.defect_patches(pd, np.arange(6)), "lin", rank=1, alpha=0.1)
    w = lin.basis[:, 0] / np.linalg.norm(lin.basis[:, 0])
    assert w[3] > 0.95, w
    ratio = fsp.fit_projection(pd, fsp.defect_patches(pd, np.arange(6)), "ratio", rank=4, alpha=0.1)
    weights = np.linalg.norm(ratio.basis, axis=0)  # every direction kept, the defect one weighted most
    assert ratio.basis.shape == (C, C)
    assert (
        abs(ratio.basis[3, int(np.argmax(weights))])
        > 0.9 * np.abs(ratio.basis[:, int(np.argmax(weights))]).max()
    )


def test_defect_patches_read_the_mask_or_the_top_cells() -> None:
    pd = lifted_block_data(np.random.default_rng(1))
    assert fsp.defect_patches(pd, np.array([0])).shape == (4, C)
    pd.cover[0] = np.nan  # no mask: the top cells of the local map (the lifted block)
    top = fsp.defect_patches(pd, np.array([0]), top=4)
    assert top.shape == (4, C)
    assert (top[:, 3] > 2).all()


def test_mask_cover_is_the_share_of_each_cell(tmp_path: Path) -> None:
    import cv2

    mask = np.zeros((256, 256), np.uint8)
    mask[:32, :64] = 255  # the first 4 x 8 = 32 px cells of an 8-cell grid: row 0, columns 0-1
    cv2.imwrite(str(tmp_path / "m.png"), mask)
    cover = fsp.mask_cover((tmp_path / "m.png", None), side=8)
    assert cover[0].reshape(8, 8)[0, :2].tolist() == [1.0, 1.0]
    assert cover[0].sum() == 2.0
    assert np.isnan(cover[1]).all()


def test_evidence_separates_and_its_weight_falls_back_to_zero() -> None:
    pd = lifted_block_data(np.random.default_rng(2))
    z, loo = fsp.patch_evidence(pd, np.arange(4), "quad", rank=2, alpha=0.3, sigma=1.0)
    assert z["bad"][4:].min() > z["test"].max()  # the two defects the fit never saw
    assert loo.shape == (4,)
    assert loo.min() > z["hold"].max()
    few_good, few_bad = np.zeros(len(z["hold"])), np.zeros(4)
    assert fsp.choose_patch_weight(few_good, z["hold"], few_bad, loo) > 0
    # evidence that does not separate: the shipped score stays (weight 0)
    assert fsp.choose_patch_weight(np.arange(40.0), z["hold"], np.full(4, 100.0), np.full(4, -50.0)) == 0.0


def test_maps_have_the_grid_shape() -> None:
    pd = lifted_block_data(np.random.default_rng(3))
    proj = fsp.fit_projection(pd, fsp.defect_patches(pd, np.arange(6)), "quad", rank=2)
    maps = proj.maps(pd.resid["test"])
    assert isinstance(maps, torch.Tensor)
    assert tuple(maps.shape) == (20, SIDE, SIDE)
