"""Nuisance copies of good images (issue #24: nuisances must not be flagged)."""

from __future__ import annotations

import numpy as np
import pytest

from lineguard.contracts.errors import InputError
from lineguard.vision.augment import DEFAULT_RANGES, NuisanceRanges, nuisance_copy


def _image() -> np.ndarray:
    rng = np.random.default_rng(0)
    base = np.zeros((64, 64, 3), np.uint8)
    base[16:48, 16:48] = 180  # a bright square on dark: shift, blur and gain all show
    out: np.ndarray = np.clip(base + rng.integers(0, 20, base.shape), 0, 255).astype(np.uint8)
    return out


def test_the_same_seed_gives_the_same_copy_and_another_seed_another() -> None:
    image = _image()
    a, b, c = nuisance_copy(image, 5), nuisance_copy(image, 5), nuisance_copy(image, 6)
    assert a.dtype == np.uint8 and a.shape == image.shape
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, image)


def test_zero_ranges_leave_the_image_as_it_is() -> None:
    image = _image()
    none = NuisanceRanges(light=0, blur_px=0, shift_px=0, rotate_deg=0, noise=0)
    assert np.array_equal(nuisance_copy(image, 3, none), image)


def test_each_nuisance_stays_within_its_range() -> None:
    image = _image()
    light_only = NuisanceRanges(light=0.2, blur_px=0, shift_px=0, rotate_deg=0, noise=0)
    gains = [
        nuisance_copy(image, s, light_only)[20:44, 20:44].mean() / image[20:44, 20:44].mean()
        for s in range(40)
    ]
    assert 0.79 <= min(gains) < 0.95 and 1.05 < max(gains) <= 1.21  # both darker and brighter copies
    noise_only = NuisanceRanges(light=0, blur_px=0, shift_px=0, rotate_deg=0, noise=8)
    spread = [np.std(nuisance_copy(image, s, noise_only).astype(float) - image) for s in range(40)]
    assert max(spread) <= 8.5 and min(spread) < 4  # sigma drawn up to 8 grey levels
    shift_only = NuisanceRanges(light=0, blur_px=0, shift_px=6, rotate_deg=0, noise=0)
    for s in range(10):
        moved = nuisance_copy(image, s, shift_only)
        cols = np.flatnonzero(moved[32, :, 0] > 100)
        assert abs(int(cols[0]) - 16) <= 2  # 6 px at 256 is 1.5 px at 64


def test_bad_ranges_and_images_are_refused() -> None:
    with pytest.raises(InputError, match="ranges"):
        nuisance_copy(_image(), 0, NuisanceRanges(noise=-1))
    with pytest.raises(InputError, match="ranges"):
        nuisance_copy(_image(), 0, NuisanceRanges(light=1.0))
    with pytest.raises(InputError, match="BGR uint8"):
        nuisance_copy(np.zeros((8, 8), np.uint8), 0, DEFAULT_RANGES)
    with pytest.raises(InputError, match="BGR uint8"):
        nuisance_copy(np.zeros((8, 8, 3), np.float32), 0, DEFAULT_RANGES)
