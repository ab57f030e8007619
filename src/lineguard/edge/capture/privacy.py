"""Privacy zones: polygons blacked out the moment a frame is captured.

The mask is applied inside the capture worker, before the frame is queued, so no later
stage (inference, evidence, redaction, debugging hooks) can ever see those pixels.
``cv2.fillPoly`` touches only the polygon's pixels, which keeps this cheap on 720p.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from lineguard.config.edge import PrivacyZone
from lineguard.contracts.types import Frame

__all__ = ["PrivacyMask"]


class PrivacyMask:
    """Blacks out a camera's privacy zones in place."""

    def __init__(self, zones: Sequence[PrivacyZone]) -> None:
        self.zones = tuple(zones)
        self._polygons = [np.asarray(z.points, dtype=np.int32).reshape(-1, 1, 2) for z in zones]

    def __bool__(self) -> bool:
        return bool(self._polygons)

    def apply(self, image: Frame) -> Frame:
        """Black out every zone of ``image`` (modified in place and returned)."""
        if self._polygons:
            cv2.fillPoly(image, self._polygons, (0, 0, 0))
        return image
