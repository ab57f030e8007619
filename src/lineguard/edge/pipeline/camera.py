"""One camera's two workers: capture, and inspect (preprocess → infer → decide → evidence → outbox).

:class:`CaptureWorker` reads the source, blacks out the privacy zones at once and
offers the frame to the camera's queue: a :class:`~lineguard.edge.workers.LatestQueue`
for a live camera (freshest wins, drops counted), a
:class:`~lineguard.edge.workers.BackpressureQueue` where every frame is a part (a folder,
an unpaced video, ``frame_queue: every_frame``), which makes capture wait instead. A
corrupt frame is counted and skipped; a source that fails to open or vanishes is retried
every few seconds while its state says so.

:class:`InspectWorker` takes frames off that queue and runs the stages. Per frame it
writes one inspection event (a diagnostic); frames are grouped into physical parts
(:mod:`lineguard.edge.decide.parts`), and when a part leaves the view its fused
:class:`~lineguard.contracts.events.PartVerdict` is written with its frames' events. A
failing part raises one alert; the decisive frame of a failing or uncertain part (and
of a sample of passing parts) becomes evidence, handed to the redaction gate's own
worker; a station whose parts keep failing raises a work-order trigger. The camera's
stages (gauging, …: :mod:`lineguard.edge.stages`) judge each part's decisive frame first,
and the part's verdict is the worst of the model's and theirs (docs/inspection.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from lineguard.config.edge import CameraConfig, NodeConfig
from lineguard.contracts.errors import ImageDecodeError, InputError, ModelError
from lineguard.contracts.events import (
    Alert,
    AlertKind,
    AlertSeverity,
    BoundingBox,
    InspectionEvent,
    ModelRef,
    PartVerdict,
    Verdict,
    WorkOrderTrigger,
)
from lineguard.contracts.ids import new_id
from lineguard.contracts.stages import PartStageVerdict, worst_verdict
from lineguard.contracts.types import (
    CapturedFrame,
    FrameSource,
    InspectionStage,
    ModelRunner,
    MultiViewStage,
    SourceState,
)
from lineguard.edge.capture.privacy import PrivacyMask
from lineguard.edge.decide import (
    ClosedPart,
    FrameJudgement,
    PartFuser,
    StationMonitor,
    classify,
    defect_regions,
    part_id_reader,
)
from lineguard.edge.drift import DriftFinding, DriftMonitor, image_stats
from lineguard.edge.evidence.gate import EvidenceGate
from lineguard.edge.evidence.region import kept_region, stored_region
from lineguard.edge.evidence.sampling import PassSampler
from lineguard.edge.outbox.store import Outbox
from lineguard.edge.preprocess import FrameCheck, crop_roi
from lineguard.edge.stages import PartContext, StageRunner
from lineguard.edge.stats import LatencyWindow, RateMeter
from lineguard.edge.workers import FrameQueue, Worker

__all__ = ["Arrival", "CameraStats", "CaptureWorker", "InspectWorker"]

log = logging.getLogger(__name__)

#: Complete frames of a part kept (with their images) for the camera's multi-view stages.
STAGE_VIEWS = 8

STAGES = ("capture", "preprocess", "infer", "decide", "evidence", "outbox")


@dataclass(frozen=True, slots=True)
class Arrival:
    """A captured frame and when it arrived (``time.perf_counter_ns``)."""

    frame: CapturedFrame
    arrived_ns: int


@dataclass(frozen=True, slots=True)
class _Seen:
    """What a part's decisive frame needs for evidence and stages: the frame, the region
    to store, and the ROI the stages measure in."""

    frame: CapturedFrame
    region: BoundingBox
    roi: BoundingBox


@dataclass
class CameraStats:
    """Everything the node reports about one camera (status file and Prometheus)."""

    camera_id: str
    state: str = SourceState.CONNECTING.value
    model: ModelRef | None = None
    last_error: str | None = None
    frames_captured: int = 0
    frames_inspected: int = 0
    frames_corrupt: int = 0
    frames_invalid: int = 0
    model_errors: int = 0
    verdicts: dict[str, int] = field(default_factory=lambda: {v.value: 0 for v in Verdict})
    alerts: int = 0
    work_orders: int = 0
    parts: int = 0
    #: The drift monitor's snapshot (``DriftMonitor.snapshot``), refreshed per part.
    drift: dict[str, object] = field(default_factory=dict)
    part_verdicts: dict[str, int] = field(default_factory=lambda: {v.value: 0 for v in Verdict})
    #: Parts judged on fewer frames than ``parts.expected_frames_per_part`` (``views_short``), and
    #: those of them sent to review by ``parts.min_frames_per_part``.
    parts_views_short: int = 0
    parts_short_to_review: int = 0
    fps: RateMeter = field(default_factory=RateMeter)
    end_to_end: LatencyWindow = field(default_factory=LatencyWindow)
    stages: dict[str, LatencyWindow] = field(default_factory=lambda: {s: LatencyWindow(512) for s in STAGES})
    queue: FrameQueue[Arrival] | None = None

    @property
    def frames_dropped(self) -> int:
        return self.queue.dropped if self.queue is not None else 0


class CaptureWorker(Worker):
    reopen_interval_s = 2.0

    def __init__(
        self,
        stop: threading.Event,
        source: FrameSource,
        mask: PrivacyMask,
        queue: FrameQueue[Arrival],
        stats: CameraStats,
    ) -> None:
        super().__init__(f"capture-{source.camera_id}", stop)
        self.source, self.mask, self.queue, self.stats = source, mask, queue, stats
        self._opened = False

    def _open(self) -> None:
        try:
            self.source.open()
            self._opened = True
        except (InputError, OSError) as exc:
            self.stats.state = SourceState.FAILED.value
            self.stats.last_error = str(exc)
            log.warning(
                "camera %s: %s (retrying every %.0fs)", self.source.camera_id, exc, self.reopen_interval_s
            )
            self.stop_event.wait(self.reopen_interval_s)

    def setup(self) -> None:
        self._open()

    def step(self) -> None:
        if not self._opened:
            self._open()
            return
        try:
            frame = self.source.read()
        except ImageDecodeError as exc:
            self.stats.frames_corrupt += 1
            log.warning("camera %s: corrupt frame skipped: %s", self.source.camera_id, exc)
            return
        except InputError as exc:  # decodable, but not an image we can inspect (e.g. 4x4 pixels)
            self.stats.frames_invalid += 1
            self.stats.last_error = str(exc)
            log.warning("camera %s: unusable frame skipped: %s", self.source.camera_id, exc)
            return
        state = self.source.state
        self.stats.state = state.value
        source_error = getattr(self.source, "last_error", None)
        if source_error is not None:  # keep the inspect worker's last error otherwise
            self.stats.last_error = source_error
        if frame is None:
            if state is SourceState.ENDED:
                self.stop_event.wait(0.2)
            return
        arrived = time.perf_counter_ns()
        self.mask.apply(frame.image)  # before anything else can see the frame
        self.stats.frames_captured += 1
        self.stats.stages["capture"].add((time.perf_counter_ns() - arrived) / 1e6)
        self.queue.put(Arrival(frame, arrived))

    def teardown(self) -> None:
        self.source.close()


class InspectWorker(Worker):
    def __init__(
        self,
        stop: threading.Event,
        *,
        node: NodeConfig,
        camera: CameraConfig,
        runner: ModelRunner,
        model_version: int,
        queue: FrameQueue[Arrival],
        stats: CameraStats,
        outbox: Outbox,
        gate: EvidenceGate | None,
        monitor: StationMonitor,
        stages: Sequence[InspectionStage] = (),
    ) -> None:
        super().__init__(f"inspect-{camera.camera_id}", stop)
        #: The camera's other checks (gauging, …), run on each part's decisive frame.
        self.stages = StageRunner(node, stages)
        self.node, self.camera, self.runner = node, camera, runner
        self.queue, self.stats, self.outbox, self.gate, self.monitor = queue, stats, outbox, gate, monitor
        self.threshold = (
            camera.threshold_override if camera.threshold_override is not None else runner.threshold
        )
        self.model_ref = ModelRef(model_id=runner.model_id, version=model_version, sha256=runner.digest)
        stats.model = self.model_ref
        self._model = (self.runner, self.model_ref, self.threshold)
        self.check = FrameCheck(camera.camera_id)
        self.ids, self.trigger_listener = part_id_reader(camera.parts)
        self.parts = PartFuser(
            self._classify,
            max_part_frames=camera.parts.max_part_frames,
            # Images kept per part beyond the decisive one only when a stage reads them.
            max_views=STAGE_VIEWS if any(isinstance(s, MultiViewStage) for s in stages) else 1,
            expected_frames=camera.parts.expected_frames_per_part,
            min_frames=camera.parts.min_frames_per_part,
        )
        #: Frame events of the part in view, written when the part closes (the decisive one
        #: then carries the evidence reference).
        self._pending: dict[str, InspectionEvent] = {}
        self._last_arrival_ns = time.perf_counter_ns()
        self._idle_ns = int(camera.parts.idle_close_s * 1e9)
        self.pass_sampler = PassSampler(camera.pass_sample_rate, camera.pass_samples_per_hour)
        self.drift = DriftMonitor(camera.drift, threshold=self.part_threshold)

    @property
    def part_threshold(self) -> float:
        """The threshold on a part's fused score: calibrated for the line, else the frame threshold."""
        calibrated = self.camera.parts.part_threshold
        return calibrated if calibrated is not None else self._model[2]

    def _classify(self, score: float) -> Verdict:
        """A part's fused score → its verdict."""
        return classify(score, self.part_threshold, self.camera.uncertain_margin)

    def setup(self) -> None:
        if self.trigger_listener is not None:
            self.trigger_listener.start()
            log.info(
                "camera %s: part trigger input on udp %s:%d",
                self.camera.camera_id,
                *self.trigger_listener.address,
            )

    def teardown(self) -> None:
        # The evidence writer waits for this before it closes the gate: the part in view keeps its image.
        self._report(self.parts.flush())
        if self.trigger_listener is not None:
            self.trigger_listener.stop()

    def use_model(self, runner: ModelRunner, ref: ModelRef) -> None:
        """Hot swap (``lineguard.edge.update``): the next frame runs ``runner``; none waits or drops.

        One tuple is replaced in one assignment, and each frame reads it once, so a frame
        is scored, judged and reported by the same model.
        """
        override = self.camera.threshold_override
        threshold = override if override is not None else runner.threshold
        self._model = (runner, ref, threshold)
        self.runner, self.model_ref, self.threshold = self._model
        self.stats.model = ref
        # Another model scores differently: its reference is the line as it runs from now on.
        self.drift.reset(self.part_threshold)

    def step(self) -> None:
        arrival = self.queue.get(timeout=0.1)
        if arrival is not None:
            self.inspect(arrival)
            self._last_arrival_ns = arrival.arrived_ns
        elif self.parts.has_open_part and time.perf_counter_ns() - self._last_arrival_ns > self._idle_ns:
            self._report(self.parts.flush("idle"))  # the source went quiet: the part has left

    def inspect(self, arrival: Arrival) -> InspectionEvent | None:
        """Run every stage on one frame; returns the event written (``None`` if refused)."""
        frame, cam, stats = arrival.frame, self.camera, self.stats
        runner, model_ref, threshold = self._model  # one model for the whole frame, even mid-swap
        lap = time.perf_counter_ns()

        def stage(name: str) -> None:
            nonlocal lap
            now = time.perf_counter_ns()
            stats.stages[name].add((now - lap) / 1e6)
            lap = now

        try:
            image = self.check.check(frame.image)
            crop, roi_box = crop_roi(image, cam.roi)
        except InputError as exc:
            stats.frames_invalid += 1
            stats.last_error = str(exc)
            log.warning("%s", exc)
            return None
        stage("preprocess")
        try:
            scores = runner.infer(crop)
        except (ModelError, InputError) as exc:
            stats.model_errors += 1
            stats.last_error = str(exc)
            log.warning("camera %s: inference failed: %s", cam.camera_id, exc)
            return None
        stage("infer")
        verdict = classify(scores.anomaly_score, threshold, cam.uncertain_margin)
        regions = defect_regions(scores, roi_box) if verdict is not Verdict.PASS else []
        event_id = new_id("evt")
        sighting = self.ids.sight(frame, crop)
        stage("decide")
        event = InspectionEvent(
            event_id=event_id,
            idempotency_key=f"{self.node.node_id}:{event_id}",
            node_id=self.node.node_id,
            site_id=self.node.site_id,
            line_id=self.node.line_id,
            station_id=cam.station_id,
            camera_id=cam.camera_id,
            part_id=sighting.part_id if sighting.part_id is not None else frame.part_id,
            frame_id=frame.frame_id,
            captured_at=frame.captured_at,
            model=model_ref,
            verdict=verdict,
            anomaly_score=scores.anomaly_score,
            threshold=threshold,
            regions=regions,
            latency_ms=(time.perf_counter_ns() - arrival.arrived_ns) / 1e6,
        )
        seen = _Seen(frame, stored_region(image.shape, roi_box, cam.evidence), roi_box)
        judgement = FrameJudgement(
            event_id, frame.frame_id, frame.captured_at, verdict, scores.anomaly_score, tuple(regions), seen
        )
        step = self.parts.add(sighting, judgement)
        if step.taken:
            self._pending[event_id] = event
        else:
            self.outbox.put(event)  # no part took it (belt empty, stuck or late): diagnostic only
        self._report(step.closed, model_ref=model_ref)
        stage("outbox")
        stats.frames_inspected += 1
        stats.verdicts[verdict.value] += 1
        stats.fps.tick()
        stats.end_to_end.add((time.perf_counter_ns() - arrival.arrived_ns) / 1e6)
        return event

    def _report(self, closed: list[ClosedPart], *, model_ref: ModelRef | None = None) -> None:
        """Write each closed part: evidence of its decisive frame, its frames' events, its
        verdict, an alert if it failed, and its outcome to the station monitor."""
        for part in closed:
            decisive = part.decisive
            # Stages first: they read the decisive frame before the evidence gate may redact it.
            verdict_id = new_id("prt")
            stage_verdicts = self._run_stages(part, verdict_id)
            verdict = worst_verdict(part.verdict, *(s.verdict for s in stage_verdicts))
            drift = self._observe_drift(part, verdict)  # also before the gate: it reads unredacted pixels
            evidence_ref = None
            seen = decisive.payload
            if self.gate is not None and isinstance(seen, _Seen) and self._keep_evidence(verdict):
                # Redaction is slow and rare: the gate's own worker does it, off this path.
                # Only the stored region (ROI + margin, or just the defects and some context
                # with evidence.crop: defects) is ever written; the redactor also sees a
                # context window around the whole ROI, in memory.
                defects = [r.bbox for r in decisive.regions]
                evidence_ref = self.gate.submit(
                    seen.frame,
                    verdict=verdict,
                    event_id=decisive.event_id,
                    mode=self.camera.redaction,
                    region=kept_region(seen.region, defects, self.camera.evidence),
                    defects=defects,
                    context_of=seen.region,
                )
            events = [self._pending.pop(f.event_id) for f in part.frames if f.event_id in self._pending]
            for event in events:
                if event.event_id == decisive.event_id and evidence_ref is not None:
                    event = event.model_copy(update={"evidence_ref": evidence_ref})
                self.outbox.put(event)
            first = events[0] if events else None
            ref = first.model if first is not None else (model_ref or self.model_ref)
            self.outbox.put(
                PartVerdict(
                    part_verdict_id=verdict_id,
                    idempotency_key=f"{self.node.node_id}:{verdict_id}",
                    node_id=self.node.node_id,
                    site_id=self.node.site_id,
                    line_id=self.node.line_id,
                    station_id=self.camera.station_id,
                    camera_id=self.camera.camera_id,
                    part_id=part.part_id,
                    id_source=part.source,
                    first_frame_id=min(f.frame_id for f in part.frames),
                    last_frame_id=max(f.frame_id for f in part.frames),
                    first_seen_at=min(f.captured_at for f in part.frames),
                    last_seen_at=max(f.captured_at for f in part.frames),
                    frames=len(part.frames),
                    frames_fused=part.fused,
                    frames_expected=part.frames_expected,
                    views_short=part.views_short,
                    model=ref,
                    verdict=verdict,
                    anomaly_score=part.score,
                    threshold=self.part_threshold,
                    regions=list(decisive.regions),
                    decisive_event_id=decisive.event_id,
                    evidence_ref=evidence_ref,
                    closed_by=part.closed_by,
                    anomalies=part.anomalies,
                    stages=stage_verdicts,
                )
            )
            if verdict is Verdict.FAIL:
                self.outbox.put(self._alert(part, stage_verdicts))
                self.stats.alerts += 1
            self.stats.parts += 1
            self.stats.part_verdicts[verdict.value] += 1
            self.stats.parts_views_short = self.parts.short_parts
            self.stats.parts_short_to_review = self.parts.short_to_review
            self._maybe_work_order(part, failed=verdict is Verdict.FAIL)
            if drift is not None:
                log.warning("camera %s: %s", self.camera.camera_id, drift.message)
                self.outbox.put(self._drift_alert(part, drift))
                self.stats.alerts += 1

    def _observe_drift(self, part: ClosedPart, verdict: Verdict) -> DriftFinding | None:
        """Feed the drift monitor the part's decisive region (and its score if it passed)."""
        seen = part.decisive.payload
        if not self.camera.drift.enabled or not isinstance(seen, _Seen):
            return None
        region, _ = crop_roi(seen.frame.image, self.camera.roi)
        # Scores of passing parts only: a failing or uncertain part's score says nothing about
        # what normal parts score now.
        finding = self.drift.observe(image_stats(region), part.score if verdict is Verdict.PASS else None)
        self.stats.drift = self.drift.snapshot()
        return finding

    def _drift_alert(self, part: ClosedPart, finding: DriftFinding) -> Alert:
        alert_id = new_id("alr")
        return Alert(
            alert_id=alert_id,
            idempotency_key=f"{self.node.node_id}:{alert_id}",
            node_id=self.node.node_id,
            site_id=self.node.site_id,
            line_id=self.node.line_id,
            camera_id=self.camera.camera_id,
            kind=AlertKind.DRIFT,
            severity=AlertSeverity.WARNING,
            raised_at=part.decisive.captured_at,
            message=f"camera {self.camera.camera_id} at station {self.camera.station_id}: {finding.message}",
            event_id=part.decisive.event_id,
        )

    def _run_stages(self, part: ClosedPart, verdict_id: str) -> list[PartStageVerdict]:
        """Run the camera's stages on the part (its decisive frame; multi-view stages get every
        complete frame kept); their results go to the outbox."""
        seen = part.decisive.payload
        if not self.stages or not isinstance(seen, _Seen):
            return []
        # The decisive frame first, then the part's other views in capture order.
        others = [v.payload for v in part.views if isinstance(v.payload, _Seen) and v.payload is not seen]
        context = PartContext(
            camera_id=self.camera.camera_id,
            station_id=self.camera.station_id,
            part_verdict_id=verdict_id,
            frame_id=seen.frame.frame_id,
            captured_at=seen.frame.captured_at,
            view_frame_ids=tuple(s.frame.frame_id for s in [seen, *others]),
        )
        views = [(s.frame.image, s.roi) for s in [seen, *others]]
        results, verdicts = self.stages.judge(seen.frame.image, seen.roi, context, views)
        for result in results:
            self.outbox.put(result)
        return verdicts

    def _keep_evidence(self, verdict: Verdict) -> bool:
        """The decisive image of every failing or uncertain part, and of a sample of passing parts."""
        if verdict is not Verdict.PASS:
            return True
        return self.pass_sampler.keep()

    def _alert(self, part: ClosedPart, stages: list[PartStageVerdict]) -> Alert:
        decisive = part.decisive
        alert_id = new_id("alr")
        name = f" part {part.part_id}" if part.part_id else ""
        # The model's class when the model failed the part, else the first failing stage's kind.
        failed_stage = next((s for s in stages if s.verdict is Verdict.FAIL), None)
        if part.verdict is Verdict.FAIL or failed_stage is None:
            defect_class = decisive.regions[0].defect_class if decisive.regions else "anomaly"
        else:
            defect_class = failed_stage.kind.value
        return Alert(
            alert_id=alert_id,
            idempotency_key=f"{self.node.node_id}:{alert_id}",
            node_id=self.node.node_id,
            site_id=self.node.site_id,
            line_id=self.node.line_id,
            camera_id=self.camera.camera_id,
            kind=AlertKind.DEFECT,
            severity=AlertSeverity.WARNING,
            raised_at=decisive.captured_at,
            message=f"defect on{name} at station {self.camera.station_id} (camera {self.camera.camera_id})",
            event_id=decisive.event_id,
            defect_class=defect_class,
        )

    def _maybe_work_order(self, part: ClosedPart, *, failed: bool) -> None:
        failing = self.monitor.record(part.key, failed)
        if failing is None:
            return
        trigger_id = new_id("wot")
        self.outbox.put(
            WorkOrderTrigger(
                trigger_id=trigger_id,
                idempotency_key=f"{self.node.node_id}:{trigger_id}",
                node_id=self.node.node_id,
                site_id=self.node.site_id,
                line_id=self.node.line_id,
                station_id=self.camera.station_id,
                created_at=part.decisive.captured_at,
                reason=(
                    f"{len(failing)} of the last {self.monitor.window} parts failed at station "
                    f"{self.camera.station_id}"
                ),
                priority="high",
                event_ids=[part.decisive.event_id],
            )
        )
        self.stats.work_orders += 1
