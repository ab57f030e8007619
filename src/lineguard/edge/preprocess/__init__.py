"""Preprocess: the stage between capture and inference (frame checks, ROI crop)."""

from __future__ import annotations

from lineguard.edge.preprocess.frames import FrameCheck, crop_roi

__all__ = ["FrameCheck", "crop_roi"]
