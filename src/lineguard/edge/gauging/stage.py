"""The gauging stage: a camera's calibration and a part type's spec, applied to each part.

Built once per camera (:meth:`GaugingStage.from_config`): the calibration must verify
against the configured signer key, name this camera, be younger than its allowed age and
be fine enough for the spec's tightest tolerance (:func:`~.spec.check_resolution`), and
the spec must load — otherwise a
:class:`~lineguard.contracts.errors.CalibrationError` / ``ConfigError`` says why and the
camera does not start. While running, a calibration that ages past its limit, or a frame
whose size is not the calibrated one, makes each part ``uncertain`` with that reason:
nothing is measured with a calibration that no longer holds.

A part seen in several frames is measured on the views it is fully in, the most centred
first, each length averaged over them (:meth:`~.measure.Gauge.read_views`); the result
names the decisive frame (``frame_id``) and every view the measurements rest on
(``frame_ids``, most centred first).

Verdict: any measurement out of tolerance or a missing feature → ``fail``; the part or a
feature not measurable (not fully in view, no edge found) → ``uncertain``; else ``pass``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from lineguard.config.stages import GaugingStageConfig
from lineguard.contracts.errors import CalibrationError
from lineguard.contracts.events import BoundingBox, Verdict
from lineguard.contracts.stages import StageInput, StageKind, StageReason
from lineguard.contracts.types import Frame, StageOutcome
from lineguard.edge.gauging.calibration import Calibration, check_age, load_calibration
from lineguard.edge.gauging.measure import Gauge
from lineguard.edge.gauging.spec import MeasurementSpec, check_resolution, load_spec

__all__ = ["GaugingStage"]

_FAILING = frozenset({"out_of_tolerance", "feature_missing", "feature_unexpected"})


class GaugingStage:
    def __init__(
        self,
        name: str,
        spec: MeasurementSpec,
        calibration: Calibration,
        *,
        inputs: tuple[StageInput, ...] = (),
        max_calibration_age_days: int = 180,
    ) -> None:
        check_resolution(spec, mm_per_px=calibration.mm_per_px, camera_id=calibration.camera_id)
        self._name = name
        self.gauge = Gauge(spec, calibration)
        self.calibration = calibration
        self.inputs = inputs
        self.max_calibration_age_days = max_calibration_age_days

    @classmethod
    def from_config(
        cls, config: GaugingStageConfig, *, camera_id: str, now: datetime | None = None
    ) -> GaugingStage:
        calibration, cal_ref = load_calibration(
            config.calibration,
            signer_key=config.signer_key,
            camera_id=camera_id,
            max_age_days=config.max_calibration_age_days,
            now=now,
        )
        spec, spec_ref = load_spec(config.spec)
        return cls(
            config.name,
            spec,
            calibration,
            inputs=(cal_ref, spec_ref),
            max_calibration_age_days=config.max_calibration_age_days,
        )

    @property
    def name(self) -> str:
        return self._name

    @property
    def kind(self) -> StageKind:
        return StageKind.GAUGING

    def _refusal(self, image: Frame) -> StageReason | None:
        try:
            check_age(self.calibration, max_age_days=self.max_calibration_age_days, now=datetime.now(UTC))
        except CalibrationError as exc:
            return StageReason(code="calibration_invalid", subject="calibration", message=exc.message[:300])
        height, width = image.shape[:2]
        cal = self.calibration
        if (width, height) != (cal.image_width, cal.image_height):
            return StageReason(
                code="calibration_invalid",
                subject="calibration",
                message=f"frame is {width}x{height}, calibrated for {cal.image_width}x{cal.image_height}",
            )
        return None

    def inspect(self, image: Frame, roi: BoundingBox) -> StageOutcome:
        return self.inspect_views([(image, roi)])

    def inspect_views(self, views: Sequence[tuple[Frame, BoundingBox]]) -> StageOutcome:
        refusal = next((r for r in (self._refusal(image) for image, _ in views) if r is not None), None)
        if refusal is not None:
            return StageOutcome(Verdict.UNCERTAIN, reasons=(refusal,), inputs=self.inputs)
        roi = views[0][1]  # the camera's ROI: the same in every view
        reading = self.gauge.read_views([image for image, _ in views], (roi.x, roi.y, roi.width, roi.height))
        if any(r.code in _FAILING for r in reading.reasons):
            verdict = Verdict.FAIL
        elif reading.reasons:
            verdict = Verdict.UNCERTAIN
        else:
            verdict = Verdict.PASS
        return StageOutcome(
            verdict,
            reasons=tuple(reading.reasons),
            measurements=tuple(reading.measurements),
            inputs=self.inputs,
            views=reading.views,
        )
