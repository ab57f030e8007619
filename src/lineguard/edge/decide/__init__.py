"""Decide: verdicts, defect regions, debouncing, alerts and work-order triggers."""

from __future__ import annotations

from lineguard.edge.decide.debounce import PartDebouncer, StationMonitor
from lineguard.edge.decide.verdict import classify, defect_regions

__all__ = ["PartDebouncer", "StationMonitor", "classify", "defect_regions"]
