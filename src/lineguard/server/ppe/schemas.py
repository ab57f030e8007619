"""What the PPE route answers: hourly counts per zone, small counts suppressed."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

__all__ = ["PpeHourView", "PpeReport"]


class PpeHourView(BaseModel):
    line_id: str
    station_id: str
    camera_id: str
    zone: str
    hour_start: datetime
    sampled_frames: int
    #: Person sightings (not distinct people); None: suppressed.
    people_seen: int | None
    #: Item → sightings lacking it; None: suppressed.
    lacking: dict[str, int | None]
    suppressed: bool


class PpeReport(BaseModel):
    min_count: int = Field(description="Counts from 1 to this minus 1 are shown as suppressed (null).")
    since: datetime
    hours: list[PpeHourView]
    note: str = Field(
        description="How to read the numbers: sightings, not people; a classifier measured on generated data."
    )
