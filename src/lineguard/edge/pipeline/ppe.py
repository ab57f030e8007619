"""A PPE camera in the node: capture (privacy zones blacked out) → sample → count → hourly counts → outbox.

The camera's :class:`~lineguard.edge.pipeline.camera.CaptureWorker` reads the source and
blacks out its privacy zones before anything else sees a frame, exactly as for an
inspection camera. :class:`PpeWorker` takes the freshest frame at most once every
``sample_interval_s`` (by capture time), has the node's redaction person detector
(:class:`~lineguard.edge.redact.PersonDetector`) find the people, and hands frame and boxes
to :class:`~lineguard.edge.ppe.PpeCounter`. The counts of an hour that ended go to the
outbox; the frame, the boxes and the crops go nowhere.

An hour is sent once, when it is over. After each frame (once the messages of an hour
that ended are in the outbox) the counter saves the open hour on the node's disk; a stop
sends nothing, and the next start takes the hour up again, or sends it at once when it is
over by then (:mod:`~lineguard.edge.ppe.open_hour` says why: a restart must not split an
hour into two separately suppressed parts, nor report it twice).

A zone outside the frame fails the camera with a ``stage_rejected`` alert (nothing is
counted until edge.yaml is fixed). A detector that fails on a frame skips that frame (the
hour's ``sampled_frames`` says how many were looked at) and raises one alert per run of
failures.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from lineguard.config.edge import PpeCameraConfig
from lineguard.contracts.errors import ConfigError, InputError
from lineguard.contracts.events import AlertKind, AlertSeverity
from lineguard.contracts.ppe import PpeCounts
from lineguard.contracts.types import Frame, SourceState
from lineguard.edge.outbox import Outbox
from lineguard.edge.pipeline.camera import Arrival, CameraStats
from lineguard.edge.ppe import PersonBox, PpeCounter
from lineguard.edge.redact import PersonDetector, RedactionError
from lineguard.edge.workers import FrameQueue, Worker

__all__ = ["DetectorFinder", "PpeWorker"]

log = logging.getLogger(__name__)

AlertSink = Callable[[AlertKind, AlertSeverity, str], None]


class DetectorFinder:
    """The redaction person detector as the counter's :class:`~lineguard.edge.ppe.PersonFinder`."""

    def __init__(self, detector: PersonDetector) -> None:
        self.detector = detector

    def people(self, image: Frame) -> list[PersonBox]:
        return [PersonBox(p.box.x0, p.box.y0, p.box.x1, p.box.y1, p.score) for p in self.detector.find(image)]


class PpeWorker(Worker):
    def __init__(
        self,
        stop: threading.Event,
        *,
        camera: PpeCameraConfig,
        counter: PpeCounter,
        queue: FrameQueue[Arrival],
        outbox: Outbox,
        stats: CameraStats,
        alert: AlertSink,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        super().__init__(f"ppe-{camera.camera_id}", stop)
        self.camera, self.counter, self.queue = camera, counter, queue
        self.outbox, self.stats, self.alert = outbox, stats, alert
        self.interval = dt.timedelta(seconds=camera.ppe.sample_interval_s)
        self._last_sample: dt.datetime | None = None
        self.dead = False
        self.detector_errors = 0
        self._failing = False
        self.clock = clock
        self._save_failing = False

    def setup(self) -> None:
        if self.counter.restore_problem is not None:
            self.alert(AlertKind.STAGE_REJECTED, AlertSeverity.WARNING, self.counter.restore_problem)
        self._put(self.counter.resume(self.clock()))

    def step(self) -> None:
        arrival = self.queue.get(timeout=0.2)
        if self.dead:  # the capture worker reports the source's state; this camera counts nothing
            self.stats.state = SourceState.FAILED.value
            return
        if arrival is None:
            return
        frame = arrival.frame
        if self._last_sample is not None and frame.captured_at - self._last_sample < self.interval:
            return
        self._last_sample = frame.captured_at
        try:
            self._put(self.counter.observe(frame.image, frame.captured_at))
        except ConfigError as exc:  # a zone outside the frame: nothing may be counted until fixed
            self.dead = True
            self._fail(exc.message)
            return
        except (RedactionError, InputError) as exc:
            self.detector_errors += 1
            if not self._failing:
                self._failing = True
                self.alert(AlertKind.STAGE_REJECTED, AlertSeverity.WARNING, f"frame not counted: {exc}")
            return
        self._failing = False
        self.stats.frames_inspected += 1

    def _put(self, messages: list[PpeCounts]) -> None:
        """Queue the messages of hours that are over, then save the open hour (in this order: a
        crash between the two re-sends the same messages, which the server stores once)."""
        for message in messages:
            self.outbox.put(message)
        try:
            self.counter.save()
        except OSError as exc:  # counting goes on in memory; a restart would lose the hour so far
            if not self._save_failing:
                self._save_failing = True
                self.alert(AlertKind.STAGE_REJECTED, AlertSeverity.WARNING, f"open hour not saved: {exc}")
            return
        self._save_failing = False

    def _fail(self, message: str) -> None:
        log.error("PPE camera %s: %s", self.camera.camera_id, message)
        self.alert(AlertKind.STAGE_REJECTED, AlertSeverity.CRITICAL, message)
        self.stats.state, self.stats.last_error = SourceState.FAILED.value, message

    def teardown(self) -> None:
        """The open hour stays saved, not sent: the next start goes on with it (or sends it when over).

        With ``send_open_hour_at_stop`` (a demo) it goes out now and a restart begins a second part."""
        if not self.dead:
            self._put(self.counter.close() if self.camera.ppe.send_open_hour_at_stop else [])
