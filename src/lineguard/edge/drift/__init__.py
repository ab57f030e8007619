"""Drift: each camera's image statistics and part scores watched against a reference of
its own line, raising a maintenance recommendation when they move (docs/drift.md)."""

from __future__ import annotations

from lineguard.edge.drift.features import IMAGE_STATISTICS, ImageStats, image_stats
from lineguard.edge.drift.monitor import DriftCause, DriftFinding, DriftMonitor

__all__ = ["IMAGE_STATISTICS", "DriftCause", "DriftFinding", "DriftMonitor", "ImageStats", "image_stats"]
