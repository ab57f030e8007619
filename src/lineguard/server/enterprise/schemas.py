"""What the plant's enterprise route answers: whether it reports upwards, and exactly what."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from lineguard.contracts.enterprise import LineDayAggregate

__all__ = ["RollupStatus"]


class RollupStatus(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool
    destination: str | None
    plant_id: str
    line_days_queued: int
    line_days_unacknowledged: int
    last_error: str | None
    next_attempt_at: datetime | None
    #: The unacknowledged snapshots as they will be sent (at most 50): what leaves the plant.
    unacknowledged: list[LineDayAggregate]
