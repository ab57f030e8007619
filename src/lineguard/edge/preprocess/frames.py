"""Between capture and inference: check the frame, crop the camera's region of interest.

A frame of the wrong size (a camera reconfigured behind our back, a stray file in a
watched folder) or with the wrong pixel layout is refused here with an
:class:`~lineguard.contracts.errors.InputError` that says what was expected and what
arrived; the camera's worker counts it and goes on with the next frame.
"""

from __future__ import annotations

import numpy as np

from lineguard.config.edge import Roi
from lineguard.contracts.errors import InputError
from lineguard.contracts.events import BoundingBox
from lineguard.contracts.types import Frame

__all__ = ["FrameCheck", "crop_roi"]


class FrameCheck:
    """Validates frames of one camera; the first good frame fixes the expected size.

    ``expected_size`` may be set from the config (synthetic / USB sources name their
    resolution); otherwise the camera's first frame sets it, and a later frame of another
    size is refused rather than silently rescaled (a changed size shifts ROI and zones).
    """

    def __init__(self, camera_id: str, expected_size: tuple[int, int] | None = None) -> None:
        self.camera_id = camera_id
        self.expected_size = expected_size  # (width, height)

    def check(self, image: object) -> Frame:
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
            kind = getattr(image, "dtype", type(image).__name__)
            msg = f"camera {self.camera_id}: expected a uint8 image array, got {kind}"
            raise InputError(msg)
        if image.ndim != 3 or image.shape[2] != 3:
            msg = f"camera {self.camera_id}: expected an HxWx3 BGR frame, got shape {image.shape}"
            raise InputError(msg)
        size = (int(image.shape[1]), int(image.shape[0]))
        if self.expected_size is None:
            self.expected_size = size
        elif size != self.expected_size:
            ew, eh = self.expected_size
            msg = (
                f"camera {self.camera_id}: frame is {size[0]}x{size[1]}, expected {ew}x{eh}; "
                "check the camera's resolution settings"
            )
            raise InputError(msg)
        return image


def crop_roi(image: Frame, roi: Roi | None) -> tuple[Frame, BoundingBox]:
    """The ROI crop (a view, no copy) and where it sits in the full frame.

    An ROI reaching past the frame is clipped; one entirely outside it is an error.
    """
    height, width = image.shape[:2]
    if roi is None:
        return image, BoundingBox(x=0, y=0, width=width, height=height)
    x0, y0 = min(roi.x, width), min(roi.y, height)
    x1, y1 = min(roi.x + roi.width, width), min(roi.y + roi.height, height)
    if x1 - x0 < 1 or y1 - y0 < 1:
        msg = f"roi x={roi.x} y={roi.y} {roi.width}x{roi.height} lies outside the {width}x{height} frame"
        raise InputError(msg)
    return image[y0:y1, x0:x1], BoundingBox(x=x0, y=y0, width=x1 - x0, height=y1 - y0)
