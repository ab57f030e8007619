"""One camera's two workers: capture, and inspect (preprocess → infer → decide → evidence → outbox).

:class:`CaptureWorker` reads the source, blacks out the privacy zones at once and
offers the frame to a :class:`~lineguard.edge.workers.LatestQueue` (freshest wins,
drops counted). A corrupt frame is counted and skipped; a source that fails to open or
vanishes is retried every few seconds while its state says so.

:class:`InspectWorker` takes frames off that queue and runs the stages. Per frame it
always writes one inspection event; the first failing frame of a part also raises an
alert and becomes evidence (as does the first uncertain frame of a part and a sample
of passes), handed to the redaction gate's own worker; a station that keeps failing
raises a work-order trigger.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from lineguard.config.edge import CameraConfig, NodeConfig
from lineguard.contracts.errors import ImageDecodeError, InputError, ModelError
from lineguard.contracts.events import (
    Alert,
    AlertKind,
    AlertSeverity,
    InspectionEvent,
    ModelRef,
    Verdict,
    WorkOrderTrigger,
)
from lineguard.contracts.ids import new_id
from lineguard.contracts.types import CapturedFrame, FrameSource, ModelRunner, SourceState
from lineguard.edge.capture.privacy import PrivacyMask
from lineguard.edge.decide import PartDebouncer, StationMonitor, classify, defect_regions
from lineguard.edge.evidence.region import stored_region
from lineguard.edge.evidence.sampling import PassSampler
from lineguard.edge.evidence_gate import EvidenceGate
from lineguard.edge.outbox.store import Outbox
from lineguard.edge.preprocess import FrameCheck, crop_roi
from lineguard.edge.stats import LatencyWindow, RateMeter
from lineguard.edge.workers import LatestQueue, Worker

__all__ = ["Arrival", "CameraStats", "CaptureWorker", "InspectWorker"]

log = logging.getLogger(__name__)

STAGES = ("capture", "preprocess", "infer", "decide", "evidence", "outbox")


@dataclass(frozen=True, slots=True)
class Arrival:
    """A captured frame and when it arrived (``time.perf_counter_ns``)."""

    frame: CapturedFrame
    arrived_ns: int


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
    fps: RateMeter = field(default_factory=RateMeter)
    end_to_end: LatencyWindow = field(default_factory=LatencyWindow)
    stages: dict[str, LatencyWindow] = field(default_factory=lambda: {s: LatencyWindow(512) for s in STAGES})
    queue: LatestQueue[Arrival] | None = None

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
        queue: LatestQueue[Arrival],
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
        queue: LatestQueue[Arrival],
        stats: CameraStats,
        outbox: Outbox,
        gate: EvidenceGate | None,
        monitor: StationMonitor,
    ) -> None:
        super().__init__(f"inspect-{camera.camera_id}", stop)
        self.node, self.camera, self.runner = node, camera, runner
        self.queue, self.stats, self.outbox, self.gate, self.monitor = queue, stats, outbox, gate, monitor
        self.threshold = (
            camera.threshold_override if camera.threshold_override is not None else runner.threshold
        )
        self.model_ref = ModelRef(model_id=runner.model_id, version=model_version, sha256=runner.digest)
        stats.model = self.model_ref
        self._model = (self.runner, self.model_ref, self.threshold)
        self.check = FrameCheck(camera.camera_id)
        self.debouncer = PartDebouncer()
        self.uncertain_debouncer = PartDebouncer()
        self.pass_sampler = PassSampler(camera.pass_sample_rate, camera.pass_samples_per_hour)

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

    def step(self) -> None:
        arrival = self.queue.get(timeout=0.1)
        if arrival is not None:
            self.inspect(arrival)

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
        regions = defect_regions(scores, threshold, roi_box) if verdict is not Verdict.PASS else []
        event_id = new_id("evt")
        alert = (
            self._alert(frame, event_id, regions[0].defect_class if regions else "anomaly")
            if verdict is Verdict.FAIL
            else None
        )
        stage("decide")
        evidence_ref = None
        if self.gate is not None and self._keep_evidence(frame, verdict, first_failure=alert is not None):
            # Redaction is slow and rare: the gate's own worker does it, off this path.
            # Only the stored region (ROI + margin) is ever written; the redactor also sees a
            # context window around it, in memory.
            evidence_ref = self.gate.submit(
                frame,
                verdict=verdict,
                event_id=event_id,
                mode=cam.redaction,
                region=stored_region(image.shape, roi_box, cam.evidence),
                defects=[r.bbox for r in regions],
            )
        stage("evidence")
        event = InspectionEvent(
            event_id=event_id,
            idempotency_key=f"{self.node.node_id}:{event_id}",
            node_id=self.node.node_id,
            site_id=self.node.site_id,
            line_id=self.node.line_id,
            station_id=cam.station_id,
            camera_id=cam.camera_id,
            part_id=frame.part_id,
            frame_id=frame.frame_id,
            captured_at=frame.captured_at,
            model=model_ref,
            verdict=verdict,
            anomaly_score=scores.anomaly_score,
            threshold=threshold,
            regions=regions,
            evidence_ref=evidence_ref,
            latency_ms=(time.perf_counter_ns() - arrival.arrived_ns) / 1e6,
        )
        self.outbox.put(event)
        if alert is not None:
            self.outbox.put(alert)
            stats.alerts += 1
        self._maybe_work_order(frame, verdict, event_id)
        stage("outbox")
        stats.frames_inspected += 1
        stats.verdicts[verdict.value] += 1
        stats.fps.tick()
        stats.end_to_end.add((time.perf_counter_ns() - arrival.arrived_ns) / 1e6)
        return event

    def _keep_evidence(self, frame: CapturedFrame, verdict: Verdict, *, first_failure: bool) -> bool:
        """One image per defective part (its first failing frame), per uncertain part, and sampled passes."""
        if verdict is Verdict.FAIL:
            return first_failure
        if verdict is Verdict.UNCERTAIN:
            return self.uncertain_debouncer.first_failure(part_id=frame.part_id, frame_id=frame.frame_id)
        return self.pass_sampler.keep()

    def _alert(self, frame: CapturedFrame, event_id: str, defect_class: str) -> Alert | None:
        if not self.debouncer.first_failure(part_id=frame.part_id, frame_id=frame.frame_id):
            return None
        alert_id = new_id("alr")
        part = f" part {frame.part_id}" if frame.part_id else ""
        return Alert(
            alert_id=alert_id,
            idempotency_key=f"{self.node.node_id}:{alert_id}",
            node_id=self.node.node_id,
            site_id=self.node.site_id,
            line_id=self.node.line_id,
            camera_id=self.camera.camera_id,
            kind=AlertKind.DEFECT,
            severity=AlertSeverity.WARNING,
            raised_at=frame.captured_at,
            message=f"defect on{part} at station {self.camera.station_id} (camera {self.camera.camera_id})",
            event_id=event_id,
            defect_class=defect_class,
        )

    def _maybe_work_order(self, frame: CapturedFrame, verdict: Verdict, event_id: str) -> None:
        part_key = self.debouncer.current_part(part_id=frame.part_id, frame_id=frame.frame_id)
        failing = self.monitor.record(part_key, verdict is Verdict.FAIL)
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
                created_at=frame.captured_at,
                reason=(
                    f"{len(failing)} of the last {self.monitor.window} parts failed at station "
                    f"{self.camera.station_id}"
                ),
                priority="high",
                event_ids=[event_id],
            )
        )
        self.stats.work_orders += 1
