"""Hide pixels: check the frame, blur or black out a mask, black a whole frame.

Blur is pixelation followed by smooth upsampling: every hidden region is rebuilt from
cells of at least ``min_cell_px`` pixels (and about 1/24 of the frame's short side),
so a face 60 px wide keeps only a handful of colour averages — enough to see that
someone stood there, too little to recognise them. A plain Gaussian blur of a fixed
size would leave a large face recognisable.
"""

from __future__ import annotations

import numpy as np

from lineguard.contracts.errors import InputError
from lineguard.contracts.types import Frame
from lineguard.edge.redact._types import HiddenMask, RedactionMode

__all__ = ["apply_hiding", "black_frame", "check_frame", "check_mode"]

#: Smallest pixelation cell; larger frames get proportionally larger cells.
MIN_CELL_PX = 12


def check_frame(image: object) -> Frame:
    """Return ``image`` if it is a non-empty ``H x W x 3`` uint8 array, else raise ``InputError``."""
    if not isinstance(image, np.ndarray):
        msg = f"redaction expects a numpy array (H x W x 3 uint8 BGR), got {type(image).__name__}"
        raise InputError(msg)
    if image.dtype != np.uint8:
        msg = f"redaction expects dtype uint8, got {image.dtype}"
        raise InputError(msg)
    if image.ndim != 3 or image.shape[2] != 3:
        msg = f"redaction expects shape H x W x 3, got {image.shape}"
        raise InputError(msg)
    if image.shape[0] == 0 or image.shape[1] == 0:
        msg = f"redaction expects a non-empty image, got shape {image.shape}"
        raise InputError(msg)
    return image


def check_mode(mode: object) -> RedactionMode:
    """Return ``mode`` if it is ``"blur"`` or ``"black"``, else raise ``InputError``."""
    if mode == "blur" or mode == "black":
        return mode
    msg = f"redaction mode must be 'blur' or 'black', got {mode!r}"
    raise InputError(msg)


def black_frame(image: Frame) -> Frame:
    """A fully black frame of the same shape: the fail-safe a caller may store instead."""
    return np.zeros_like(check_frame(image))


def _pixelated(image: Frame) -> Frame:
    import cv2

    height, width = image.shape[:2]
    cell = max(MIN_CELL_PX, min(height, width) // 24)
    small = cv2.resize(
        image,
        (max(1, width // cell), max(1, height // cell)),
        interpolation=cv2.INTER_AREA,
    )
    # Linear upsampling of the cell grid leaves only smooth gradients: no edges, no texture.
    smooth = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.asarray(smooth, dtype=np.uint8)


def apply_hiding(image: Frame, hidden: HiddenMask, mode: RedactionMode) -> Frame:
    """A new frame in which the pixels where ``hidden`` is True are blacked out or blurred."""
    if hidden.shape != image.shape[:2]:
        msg = f"hidden mask shape {hidden.shape} does not match image {image.shape[:2]}"
        raise InputError(msg)
    check_mode(mode)
    out = image.copy()
    if not hidden.any():
        return out
    import cv2

    # cv2.copyTo with a mask is several times faster than boolean-index assignment.
    source = np.zeros_like(image) if mode == "black" else _pixelated(image)
    cv2.copyTo(source, hidden.astype(np.uint8), out)
    return out
