"""What the roll-up's people routes answer."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict

from lineguard.contracts.enterprise import AlertCount, DefectClassCount

__all__ = ["AuditEntryOut", "LineDayOut", "PlantOut"]


class LineDayOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plant_id: str
    line_id: str
    day: dt.date
    revision: int
    parts_inspected: int
    parts_passed: int
    parts_failed: int
    parts_uncertain: int
    #: passed / inspected; None for a day without parts.
    first_pass_yield: float | None
    defect_classes: list[DefectClassCount]
    alerts: list[AlertCount]
    received_at: dt.datetime


class PlantOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plant_id: str
    fingerprint: str
    enrolled_at: dt.datetime
    revoked_at: dt.datetime | None
    last_received_at: dt.datetime | None


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seq: int
    recorded_at: dt.datetime
    name: str
    actor: str
    outcome: str
    payload: str
    entry_hash: str
