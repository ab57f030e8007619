"""Fuzz the server's JPEG check for evidence uploads: any input is accepted as a JPEG with
a frame size or refused with ImageDecodeError, never anything else; real JPEGs pass."""

from __future__ import annotations

import contextlib

import cv2
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lineguard.contracts.errors import ImageDecodeError
from lineguard.server.evidence_views.jpeg import JpegInfo, check_jpeg


def _jpeg(width: int = 64, height: int = 48, *, progressive: bool = False) -> bytes:
    image = np.full((height, width, 3), 128, np.uint8)
    params = [cv2.IMWRITE_JPEG_QUALITY, 90, cv2.IMWRITE_JPEG_PROGRESSIVE, int(progressive)]
    ok, encoded = cv2.imencode(".jpg", image, params)
    assert ok
    return encoded.tobytes()


REAL = _jpeg()


def test_real_jpegs_pass_with_their_size() -> None:
    assert check_jpeg(REAL) == JpegInfo(64, 48, 3)
    assert check_jpeg(_jpeg(33, 17, progressive=True)) == JpegInfo(33, 17, 3)


def test_other_formats_and_truncations_are_refused() -> None:
    ok, png = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))
    assert ok
    for bad in [b"", b"\xff\xd8", png.tobytes(), REAL[: len(REAL) // 2], REAL[:-2], b"\xff\xd8\xff\xd9"]:
        with contextlib.suppress(ImageDecodeError):
            check_jpeg(bad)
            raise AssertionError(f"accepted {bad[:16]!r}")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_any_bytes_pass_or_raise_image_decode_error(data: bytes) -> None:
    with contextlib.suppress(ImageDecodeError):
        info = check_jpeg(data)
        assert info.width > 0 and info.height > 0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(REAL) - 1), st.integers(0, 255)), min_size=1, max_size=8))
def test_mutated_jpegs_pass_or_raise_image_decode_error(edits: list[tuple[int, int]]) -> None:
    data = bytearray(REAL)
    for index, value in edits:
        data[index] = value
    with contextlib.suppress(ImageDecodeError):
        info = check_jpeg(bytes(data))
        assert info.width > 0 and info.height > 0
