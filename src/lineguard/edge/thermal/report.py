"""What leaves the node about thermal monitoring: :class:`~lineguard.contracts.stages.StageResult`\\ s.

A thermal stage judges assets, not parts, so its results carry no ``part_verdict_id``.
Each new alarm becomes a ``fail`` result whose one reason is the alarm (``hot_spot``,
``delta_t``, ``sensor_dropout``; ``subject`` = the asset, or ``camera``) with the measured
value and its limit; each maintenance recommendation becomes an ``uncertain`` result —
a person decides — with the reason ``maintenance_recommended`` and two measurements, the
smoothed rise over normal (``<asset>.trend``, °C, its limit) and its slope (°C/h). The
server turns the latter into a review item (``thermal_maintenance``). Every
``reading_interval_s`` (capture time) a ``pass`` result with no reason carries the current
*reading* of each asset for the dashboard's thermal view: ``<asset>.max`` (the hottest
pixel, °C, with the learned band of that hour as nominal and limits) and ``<asset>.trend``
(the smoothed rise over normal, °C, its limit when set). Temperatures carry the camera's
stated accuracy as their uncertainty. Frames never leave: only these numbers.
"""

from __future__ import annotations

from lineguard.config.edge import NodeConfig
from lineguard.config.thermal import ThermalStageConfig
from lineguard.contracts.events import Verdict
from lineguard.contracts.ids import new_id
from lineguard.contracts.stages import (
    MAINTENANCE_RECOMMENDED,
    MAX_MEASUREMENTS_PER_RESULT,
    Measurement,
    StageKind,
    StageReason,
    StageResult,
)
from lineguard.edge.thermal.monitor import MaintenanceRecommendation, ThermalAlarm, ThermalObservation

__all__ = ["ThermalReporter"]


class ThermalReporter:
    """Turns a camera's observations into stage results for the outbox."""

    def __init__(
        self, node: NodeConfig, config: ThermalStageConfig, *, camera_id: str, station_id: str
    ) -> None:
        self.node, self.config = node, config
        self.camera_id, self.station_id = camera_id, station_id

    def _result(
        self,
        observation: ThermalObservation,
        frame_id: int,
        verdict: Verdict,
        reasons: list[StageReason],
        measurements: list[Measurement],
    ) -> StageResult:
        result_id = new_id("stg")
        return StageResult(
            result_id=result_id,
            idempotency_key=f"{self.node.node_id}:{result_id}",
            node_id=self.node.node_id,
            site_id=self.node.site_id,
            line_id=self.node.line_id,
            station_id=self.station_id,
            camera_id=self.camera_id,
            stage=self.config.name,
            kind=StageKind.THERMAL,
            frame_id=frame_id,
            captured_at=observation.at,
            verdict=verdict,
            reasons=reasons,
            measurements=measurements,
            latency_ms=0.0,
        )

    def _alarm(self, observation: ThermalObservation, frame_id: int, alarm: ThermalAlarm) -> StageResult:
        measurements = []
        if alarm.value_c is not None:
            measurements.append(
                Measurement(
                    characteristic=f"{alarm.asset}.{alarm.kind}".lower(),
                    value=round(alarm.value_c, 2),
                    uncertainty=self.config.accuracy_c,
                    unit="degC",
                    upper_limit=None if alarm.limit_c is None else round(alarm.limit_c, 2),
                    in_tolerance=False,
                )
            )
        reason = StageReason(code=alarm.kind, subject=alarm.asset.lower(), message=alarm.message[:300])
        return self._result(observation, frame_id, Verdict.FAIL, [reason], measurements)

    def _recommendation(
        self, observation: ThermalObservation, frame_id: int, rec: MaintenanceRecommendation
    ) -> StageResult:
        asset = rec.asset.lower()
        measurements = [
            Measurement(
                characteristic=f"{asset}.trend",
                value=round(rec.trend_c, 2),
                uncertainty=self.config.accuracy_c,
                unit="degC",
                upper_limit=rec.limit_c,
                in_tolerance=False,
            ),
            Measurement(
                characteristic=f"{asset}.slope",
                value=round(rec.slope_c_per_h, 3),
                uncertainty=0.0,
                unit="degC/h",
            ),
        ]
        reason = StageReason(code=MAINTENANCE_RECOMMENDED, subject=asset, message=rec.message[:300])
        return self._result(observation, frame_id, Verdict.UNCERTAIN, [reason], measurements)

    def reading(self, observation: ThermalObservation, frame_id: int) -> StageResult | None:
        """The assets' current reading as a ``pass`` result (``None``: no asset measured)."""
        limits = {roi.asset: roi.trend_limit_c for roi in self.config.rois}
        measurements = []
        for r in observation.readings:
            asset, band, limit = r.asset.lower(), r.band, limits.get(r.asset)
            measurements += [
                Measurement(
                    characteristic=f"{asset}.max",
                    value=round(r.max_c, 2),
                    uncertainty=self.config.accuracy_c,
                    unit="degC",
                    nominal=round(band.center_c, 2),
                    lower_limit=round(band.low_c, 2),
                    upper_limit=round(band.high_c, 2),
                    in_tolerance=band.low_c <= r.max_c <= band.high_c,
                ),
                Measurement(
                    characteristic=f"{asset}.trend",
                    value=round(r.trend_c, 2),
                    uncertainty=self.config.accuracy_c,
                    unit="degC",
                    upper_limit=limit,
                    in_tolerance=limit is None or r.trend_c < limit,
                ),
            ]
        if not measurements:
            return None
        return self._result(
            observation, frame_id, Verdict.PASS, [], measurements[:MAX_MEASUREMENTS_PER_RESULT]
        )

    def results(self, observation: ThermalObservation, frame_id: int) -> list[StageResult]:
        """One result per alarm raised and per recommendation made on this frame."""
        return [self._alarm(observation, frame_id, a) for a in observation.alarms] + [
            self._recommendation(observation, frame_id, r) for r in observation.recommendations
        ]
