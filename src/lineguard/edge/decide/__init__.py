"""Decide: verdicts, defect regions, parts (identity and fusion), alerts and work-order triggers."""

from __future__ import annotations

from lineguard.edge.decide.debounce import PartDebouncer, StationMonitor
from lineguard.edge.decide.part_ids import (
    PartIdReader,
    Sighting,
    TriggerInput,
    TriggerListener,
    part_id_reader,
)
from lineguard.edge.decide.parts import ClosedPart, FrameJudgement, PartFuser, PartStep
from lineguard.edge.decide.verdict import classify, defect_regions

__all__ = [
    "ClosedPart",
    "FrameJudgement",
    "PartDebouncer",
    "PartFuser",
    "PartIdReader",
    "PartStep",
    "Sighting",
    "StationMonitor",
    "TriggerInput",
    "TriggerListener",
    "classify",
    "defect_regions",
    "part_id_reader",
]
