"""What a plant may tell its enterprise roll-up (schema version 1): counts per line and day, nothing more.

A plant server that opted in (``server.yaml``: ``enterprise``) sends one
:class:`PlantAggregates` message now and then, holding a :class:`LineDayAggregate` per
(line, UTC day) whose counts changed. Each is a **snapshot** of that line's day, not an
increment: ``revision`` grows by one every time the plant's counts for the day change, the
roll-up keeps the highest revision it has seen, and a resend of the same revision is a
duplicate. So a message lost, repeated or delivered out of order never adds a part twice.

What can never be in it (the fields do not exist, and unknown fields are refused): an
inspection record, an event, part or alert id, a frame, evidence, a person (user, reviewer,
operator), a message text, a camera or node, a model, a time finer than the day. Parts are
counted per line, not per person, so small counts are sent as they are. PPE (safety)
counts are not part of this contract at all: they describe people.

``parts_inspected`` counts the line's part verdicts summed over its cameras (a part two
cameras judged counts twice, as on the plant's own dashboard). ``alerts`` counts alerts
raised that day by kind and severity.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, model_validator

from lineguard.contracts.events import AlertKind, AlertSeverity
from lineguard.contracts.fields import SCHEMA_VERSION, DefectClass, Name, UtcDatetime, WireMessage

__all__ = [
    "MAX_LINE_DAYS",
    "AlertCount",
    "DefectClassCount",
    "LineDayAggregate",
    "PlantAggregates",
    "RollupReceipt",
]

#: Line-days in one message (a plant with 50 lines catching up a week stays well under).
MAX_LINE_DAYS = 500
_COUNT = Field(ge=0, le=10**12)


class DefectClassCount(WireMessage):
    """Parts of the day whose regions include one defect class (a part counts once per class)."""

    defect_class: DefectClass
    parts: int = _COUNT


class AlertCount(WireMessage):
    """Alerts of one kind and severity raised on the line that day."""

    kind: AlertKind
    severity: AlertSeverity
    count: int = _COUNT


class LineDayAggregate(WireMessage):
    """One line's counts for one UTC day, as of ``revision``."""

    line_id: Name
    day: dt.date = Field(description="The UTC day counted.")
    revision: int = Field(ge=1, le=10**12, description="Grows each time the day's counts change.")
    parts_inspected: int = _COUNT
    parts_passed: int = _COUNT
    parts_failed: int = _COUNT
    parts_uncertain: int = _COUNT
    defect_classes: list[DefectClassCount] = Field(default_factory=list, max_length=256)
    alerts: list[AlertCount] = Field(default_factory=list, max_length=64)

    @model_validator(mode="after")
    def _consistent(self) -> LineDayAggregate:
        verdicts = self.parts_passed + self.parts_failed + self.parts_uncertain
        if verdicts != self.parts_inspected:
            msg = (
                f"parts_passed + parts_failed + parts_uncertain must equal parts_inspected: "
                f"expected {self.parts_inspected}, got {verdicts}"
            )
            raise ValueError(msg)
        classes = [c.defect_class for c in self.defect_classes]
        if len(set(classes)) != len(classes):
            msg = "each defect class may appear once per line-day"
            raise ValueError(msg)
        kinds = [(a.kind, a.severity) for a in self.alerts]
        if len(set(kinds)) != len(kinds):
            msg = "each (kind, severity) of alerts may appear once per line-day"
            raise ValueError(msg)
        return self


class PlantAggregates(WireMessage):
    """What one plant sends its roll-up in one request."""

    schema_version: Literal[1] = SCHEMA_VERSION
    plant_id: Name = Field(description="The plant, as its roll-up certificate names it.")
    sent_at: UtcDatetime
    aggregates: list[LineDayAggregate] = Field(min_length=1, max_length=MAX_LINE_DAYS)

    @model_validator(mode="after")
    def _one_per_line_day(self) -> PlantAggregates:
        keys = [(a.line_id, a.day) for a in self.aggregates]
        if len(set(keys)) != len(keys):
            msg = "each (line_id, day) may appear once per message"
            raise ValueError(msg)
        return self


class RollupReceipt(WireMessage):
    """The roll-up's answer: how many line-days it stored, already had, or had newer."""

    stored: int = Field(ge=0)
    duplicates: int = Field(ge=0)
    stale: int = Field(ge=0)
