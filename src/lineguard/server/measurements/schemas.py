"""What the SPC routes answer."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

__all__ = ["CharacteristicView", "ControlChartView", "RuleHit", "SubgroupPoint"]


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
    subgroups: list[SubgroupPoint]
    rule_hits: list[RuleHit]
