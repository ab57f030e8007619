"""Pixels ↔ part-plane millimetres through a camera calibration (lens distortion included).

Edges are located in the camera's own image (no resampling: nothing is lost to
interpolation) and only the edge points are carried to millimetres, where the part
plane is flat and a circle is a circle.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from lineguard.edge.gauging.calibration import Calibration

__all__ = ["PlaneMap"]

Floats = npt.NDArray[np.float64]


class PlaneMap:
    def __init__(self, calibration: Calibration) -> None:
        self.calibration = calibration
        self._matrix = calibration.matrix
        self._dist = calibration.dist
        self._to_mm = calibration.homography
        self._to_px = np.linalg.inv(self._to_mm)
        self._inv_matrix = np.linalg.inv(self._matrix)
        #: Nominal scale (mm per pixel at the image centre).
        self.mm_per_px = calibration.mm_per_px

    def to_mm(self, px: Floats) -> Floats:
        """Image pixels (N x 2) → plane millimetres (N x 2)."""
        if len(px) == 0:
            return np.zeros((0, 2))
        und = cv2.undistortPoints(
            px.reshape(-1, 1, 2).astype(np.float64),
            self._matrix,
            self._dist,
            P=self._matrix,
            criteria=(cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 30, 1e-9),
        )
        return np.asarray(cv2.perspectiveTransform(und, self._to_mm).reshape(-1, 2), np.float64)

    def to_px(self, mm: Floats) -> Floats:
        """Plane millimetres (N x 2) → image pixels (N x 2)."""
        if len(mm) == 0:
            return np.zeros((0, 2))
        und = cv2.perspectiveTransform(mm.reshape(-1, 1, 2).astype(np.float64), self._to_px).reshape(-1, 2)
        rays = np.hstack([und, np.ones((len(und), 1))]) @ self._inv_matrix.T
        projected, _ = cv2.projectPoints(rays, np.zeros(3), np.zeros(3), self._matrix, self._dist)
        return np.asarray(projected.reshape(-1, 2), np.float64)
