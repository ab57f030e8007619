"""The detection benches' feature cache (``bench/generalisation_data._digest``) is keyed on
the images' names and contents: a fresh copy of the same dataset (new modification times)
reuses the cached features, a changed image does not."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from generalisation_data import _digest


def _images(root: Path) -> list[Path]:
    paths = []
    for i in range(3):
        p = root / f"good_{i}.png"
        p.write_bytes(bytes([i]) * 64)
        paths.append(p)
    return paths


def test_a_fresh_copy_with_new_times_keeps_the_key(tmp_path: Path) -> None:
    paths = _images(tmp_path)
    before = _digest(paths, "mt s8")
    for p in paths:
        os.utime(p, (1_000_000_000, 1_000_000_000))
    assert _digest(paths, "mt s8") == before


def test_changed_contents_a_different_tag_or_other_files_change_the_key(tmp_path: Path) -> None:
    paths = _images(tmp_path)
    before = _digest(paths, "mt s8")
    assert _digest(paths, "mt s16") != before
    assert _digest(paths[:2], "mt s8") != before
    paths[1].write_bytes(bytes([9]) * 64)  # same size, other bytes
    assert _digest(paths, "mt s8") != before
