"""What the SPC routes answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CharacteristicView",
    "ControlChartView",
    "RuleHit",
    "SpcSettingsRequest",
    "SpcSettingsView",
    "SubgroupPoint",
]

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


class CharacteristicView(BaseModel):
    line_id: str
    station_id: str
    stage: str
    characteristic: str
    unit: str
    measurements: int
    out_of_tolerance: int
    last_value: float
    last_at: datetime
    nominal: float | None
    lower_limit: float | None
    upper_limit: float | None


class SubgroupPoint(BaseModel):
    index: int
    mean: float
    range: float
    first_at: datetime
    last_at: datetime


class RuleHit(BaseModel):
    rule: int
    description: str
    subgroup: int
    side: str


class ControlChartView(BaseModel):
    """X̄/R chart of one characteristic, with its capability and the rules that fired."""

    line_id: str
    station_id: str
    characteristic: str
    unit: str
    subgroup_size: int
    measurements: int
    nominal: float | None
    lower_limit: float | None
    upper_limit: float | None
    centre: float | None
    ucl: float | None
    lcl: float | None
    mean_range: float | None
    r_ucl: float | None
    sigma: float | None
    cp: float | None
    cpk: float | None
    baseline_subgroups: int
    #: The Western Electric rules tested on this characteristic.
    rules: list[int]
    #: Where its baseline starts (None: at its first value).
    baseline_from: datetime | None
    subgroups: list[SubgroupPoint]
    rule_hits: list[RuleHit]


class SpcSettingsRequest(BaseModel):
    """``PUT /api/v1/spc/settings``: the rules to test, and/or a new baseline from now."""

    model_config = ConfigDict(extra="forbid")

    line_id: Id
    station_id: Id
    characteristic: Id
    rules: list[int] | None = Field(default=None, max_length=4, description="Subset of 1-4; None: unchanged.")
    reset_baseline: bool = Field(
        default=False, description="Start the baseline anew: values from now on form the chart."
    )
    reason: str = Field(min_length=3, max_length=500, description="Why (kept in the audit trail).")


class SpcSettingsView(BaseModel):
    line_id: str
    station_id: str
    characteristic: str
    rules: list[int]
    baseline_from: datetime | None
    changed_by: str
    changed_at: datetime
    reason: str
