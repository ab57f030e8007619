"""What the label-check routes answer."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from lineguard.server.labelchecks.outcomes import Outcome

__all__ = ["LabelCheckView", "LabelReasonView", "LabelStationView"]


class LabelStationView(BaseModel):
    """One label station's checks in the window, by outcome, and the fields that differed."""

    line_id: str
    station_id: str
    camera_id: str
    stage: str
    checks: int
    read: int
    mismatch: int
    unreadable: int
    upside_down: int
    not_judged: int
    #: Field → mismatches of it (part_number, lot, date, quantity, gtin), most first.
    fields: dict[str, int]
    last_at: datetime


class LabelReasonView(BaseModel):
    code: str
    subject: str
    message: str


class LabelCheckView(BaseModel):
    """One check: when, where, its outcome and reasons, and the record of its part."""

    result_id: str
    line_id: str
    station_id: str
    camera_id: str
    stage: str
    captured_at: datetime
    verdict: str
    outcome: Outcome
    reasons: list[LabelReasonView]
    #: The part's decisive frame (open it at ``/record?event=…``); None without a part verdict.
    record_event_id: str | None
