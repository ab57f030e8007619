"""What the thermal routes answer."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

__all__ = ["ThermalAlarmView", "ThermalAssetView", "ThermalPoint", "ThermalSeriesView"]


class ThermalAssetView(BaseModel):
    """One watched asset: its latest reading in the window, and its alarms there."""

    line_id: str
    station_id: str
    camera_id: str
    stage: str
    asset: str
    #: The latest reading (None: only alarms in the window, no reading yet).
    read_at: datetime | None
    max_c: float | None
    band_low_c: float | None
    band_centre_c: float | None
    band_high_c: float | None
    in_band: bool | None
    trend_c: float | None
    trend_limit_c: float | None
    alarms: int
    last_alarm_at: datetime | None
    last_alarm_kind: str | None
    recommendations: int


class ThermalPoint(BaseModel):
    at: datetime
    max_c: float
    band_low_c: float | None
    band_high_c: float | None
    trend_c: float | None


class ThermalAlarmView(BaseModel):
    result_id: str
    line_id: str
    station_id: str
    camera_id: str
    at: datetime
    #: ``hot_spot``, ``delta_t``, ``sensor_dropout`` or ``maintenance_recommended``.
    kind: str
    #: The asset, or ``camera`` for a dropout.
    asset: str
    value: float | None
    limit: float | None
    message: str


class ThermalSeriesView(BaseModel):
    """One asset over the window: readings (thinned to ``max_points``) and its alarms."""

    line_id: str
    camera_id: str
    asset: str
    readings: int
    trend_limit_c: float | None
    points: list[ThermalPoint]
    alarms: list[ThermalAlarmView]
