"""prepare_input's one-pass conversion against the plain three-step one it replaced (issue #24, latency)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from lineguard.vision.preprocess import prepare_input


@pytest.mark.parametrize("colour_order", ["RGB", "BGR"])
@pytest.mark.parametrize(
    ("shape", "size"), [((480, 640, 3), (256, 192)), ((64, 64, 3), (64, 64)), ((50, 70), (32, 48))]
)
def test_the_tensor_is_bit_identical_to_convert_transpose_divide(
    colour_order: str, shape: tuple[int, ...], size: tuple[int, int]
) -> None:
    width, height = size
    frame = np.random.default_rng(5).integers(0, 256, shape, dtype=np.uint8)
    got = prepare_input(frame, width=width, height=height, colour_order=colour_order)  # type: ignore[arg-type]
    bgr = frame if frame.ndim == 3 else np.repeat(frame[:, :, None], 3, axis=2)
    if bgr.shape[:2] != (height, width):
        shrinking = bgr.shape[0] * bgr.shape[1] > width * height
        interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        bgr = np.asarray(cv2.resize(bgr, (width, height), interpolation=interpolation), dtype=np.uint8)
    pixels = bgr[:, :, ::-1] if colour_order == "RGB" else bgr
    expected = pixels.astype(np.float32).transpose(2, 0, 1)[None] / np.float32(255.0)
    assert got.dtype == np.float32 and got.shape == (1, 3, height, width)
    assert got.flags.c_contiguous
    assert np.array_equal(got, expected)
    assert float(got.min()) >= 0.0 and float(got.max()) <= 1.0
