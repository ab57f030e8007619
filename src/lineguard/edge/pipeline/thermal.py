"""A thermal camera in the node: folder frames → :class:`ThermalMonitor` → thermal stage results → outbox.

A thermal camera judges equipment over time, not parts, so it is not a ``cameras[]`` entry
with a per-part stage runner but its own worker (``edge.yaml`` ``thermal_cameras``). Each
step reads the files that arrived in the camera's folder since the last step (name order is
time order), learns the normal bands from the first ``learn_hours`` of frames, then observes
every frame and puts the :class:`ThermalReporter`'s results — alarms and maintenance
recommendations, and every ``reading_interval_s`` the assets' current reading — in the
outbox. Frames never leave the node.

A file that is not a radiometric frame (8-bit, colour, corrupt) is refused with its reason:
the camera shows ``failed`` with that reason and a ``stage_rejected`` alert goes to the
outbox once per run of bad files; the next good frame puts it back to ``streaming`` (its
state while learning and watching). Too few usable frames to learn from fails the camera
for good (it cannot judge). Other cameras carry on. Learned bands are saved on the node
(``edge/thermal/bands_file.py``) and restored at the next start, so a restart does not
relearn; a saved file that is corrupt or was learned for another config raises a
``stage_rejected`` alert and the camera learns again.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from lineguard.config.edge import NodeConfig
from lineguard.config.thermal import ThermalCameraConfig
from lineguard.contracts.errors import InputError, LineGuardError
from lineguard.contracts.events import AlertKind, AlertSeverity
from lineguard.contracts.stages import StageResult
from lineguard.contracts.types import SourceState
from lineguard.edge.outbox import Outbox
from lineguard.edge.pipeline.camera import CameraStats
from lineguard.edge.thermal import (
    ThermalFolderReader,
    ThermalFrame,
    ThermalMonitor,
    ThermalObservation,
    ThermalReporter,
)
from lineguard.edge.thermal.bands_file import bands_path, load_bands, save_bands
from lineguard.edge.workers import Worker

__all__ = ["ThermalWorker"]

log = logging.getLogger(__name__)

#: Files read per step, so a full folder is worked through without holding up a stop request.
FILES_PER_STEP = 64

AlertSink = Callable[[AlertKind, AlertSeverity, str], None]


class ThermalWorker(Worker):
    def __init__(
        self,
        stop: threading.Event,
        *,
        node: NodeConfig,
        camera: ThermalCameraConfig,
        outbox: Outbox,
        stats: CameraStats,
        alert: AlertSink,
    ) -> None:
        super().__init__(f"thermal-{camera.camera_id}", stop)
        self.camera, self.outbox, self.stats, self.alert = camera, outbox, stats, alert
        # Raises InputError now (missing folder), so the node marks the camera failed at start.
        self.reader = ThermalFolderReader(camera.source, start_at=dt.datetime.now(dt.UTC))
        self.monitor = ThermalMonitor(camera.monitor)
        self.reporter = ThermalReporter(
            node, camera.monitor, camera_id=camera.camera_id, station_id=camera.station_id
        )
        self.learn_until: dt.datetime | None = None  # set by the first frame
        self.learned = False
        self.dead = False  # cannot judge any more (too little to learn from)
        self._rejected_seen = 0
        self._frame_id = 0
        self._live = False  # frames arrive as they are taken (not a replayed folder)
        self._last_reading_at: dt.datetime | None = None
        self.bands_file = bands_path(node.data_dir, camera.camera_id)

    def setup(self) -> None:
        self.stats.state = SourceState.CONNECTING.value
        self._restore_bands()

    # -- learned bands across restarts (edge/thermal/bands_file.py) ---------------------------

    def _restore_bands(self) -> None:
        """Bands saved by an earlier run: monitoring starts at once. A file that is corrupt, or
        was learned for another config, is set aside with an alert, and the camera learns again."""
        path, monitor = self.bands_file, self.camera.monitor
        if not path.exists():
            return
        try:
            bands, learned_at = load_bands(path, camera_id=self.camera.camera_id, config=monitor)
            self.monitor.restore_bands(bands)
        except LineGuardError as exc:
            rejected = path.with_name(path.name + ".rejected")
            try:
                path.replace(rejected)  # kept for a look, never read again
            except OSError:
                rejected = path  # overwritten once the camera has learned again
            message = f"learned bands not used, learning again: {exc.message} (kept as {rejected.name})"
            log.error("thermal camera %s: %s", self.camera.camera_id, message)  # noqa: TRY400
            self.alert(AlertKind.STAGE_REJECTED, AlertSeverity.WARNING, message)
            return
        self.learned = True
        log.info(
            "thermal camera %s: normal bands learned at %s restored from %s",
            self.camera.camera_id,
            learned_at.isoformat(),
            path,
        )

    def _save_bands(self, learned_at: dt.datetime) -> None:
        try:
            save_bands(
                self.bands_file,
                camera_id=self.camera.camera_id,
                config=self.camera.monitor,
                bands=self.monitor.export_bands(),
                now=learned_at,
            )
        except OSError as exc:  # monitoring goes on; only a restart would learn again
            message = f"learned bands could not be saved ({exc}): a restart will learn them again"
            log.error("thermal camera %s: %s", self.camera.camera_id, message)  # noqa: TRY400
            self.alert(AlertKind.STAGE_REJECTED, AlertSeverity.WARNING, message)

    def step(self) -> None:
        if self.dead:
            self.stop_event.wait(1.0)
            return
        try:
            frames = self.reader.poll(FILES_PER_STEP)
        except InputError as exc:
            self._fail(exc.message, AlertSeverity.CRITICAL)
            self.stop_event.wait(self.camera.poll_interval_ms / 1000)
            return
        self._report_rejected()
        for frame in frames:
            self._handle(frame)
        if not frames:
            self._check_silence()
            self.stop_event.wait(self.camera.poll_interval_ms / 1000)

    # -- one frame ------------------------------------------------------------------

    def _handle(self, frame: ThermalFrame) -> None:
        stats = self.stats
        stats.frames_captured += 1
        stats.fps.tick()
        now = dt.datetime.now(dt.UTC)
        self._live = (now - frame.captured_at).total_seconds() < self.camera.monitor.dropout_after_s
        if self.learn_until is None:
            self.learn_until = frame.captured_at + dt.timedelta(hours=self.camera.learn_hours)
        if not self.learned and frame.captured_at < self.learn_until:
            if not self.monitor.add_normal(frame):
                stats.frames_invalid += 1
            stats.state = SourceState.STREAMING.value
            return
        if not self.learned:
            try:
                used = self.monitor.finish_learning()
            except InputError as exc:
                self.dead = True
                self._fail(f"cannot learn the normal bands: {exc.message}", AlertSeverity.CRITICAL)
                return
            self.learned = True
            log.info("thermal camera %s: normal bands learned from %d frames", self.camera.camera_id, used)
            self._save_bands(frame.captured_at)
        observation = self.monitor.observe(frame)
        self._put(self.reporter.results(observation, self._frame_id))
        self._put_reading(observation)
        self._frame_id += 1
        if not observation.valid:
            stats.frames_invalid += 1
        else:
            stats.state, stats.last_error = SourceState.STREAMING.value, None
        stats.frames_inspected += 1  # last: a frame counted inspected has its results in the outbox

    def _put_reading(self, observation: ThermalObservation) -> None:
        """Every ``reading_interval_s`` of capture time: the assets' current reading (the trend chart)."""
        interval = self.camera.monitor.reading_interval_s
        last = self._last_reading_at
        if interval <= 0 or not observation.valid:
            return
        if last is not None and (observation.at - last).total_seconds() < interval:
            return
        reading = self.reporter.reading(observation, self._frame_id)
        if reading is not None:
            self.outbox.put(reading)  # a reading, not a judgement: no verdict or alert counted
            self._last_reading_at = observation.at

    def _put(self, results: list[StageResult]) -> None:
        for result in results:
            self.outbox.put(result)
            self.stats.verdicts[result.verdict.value] += 1
            self.stats.alerts += 1

    # -- what goes wrong ------------------------------------------------------------------

    def _fail(self, message: str, severity: AlertSeverity) -> None:
        """Alert (once per distinct reason) before the state shows it: whoever sees failed finds the alert."""
        if self.stats.last_error != message:
            log.error("thermal camera %s: %s", self.camera.camera_id, message)
            self.alert(AlertKind.STAGE_REJECTED, severity, message)
        self.stats.state, self.stats.last_error = SourceState.FAILED.value, message

    def _report_rejected(self) -> None:
        """Newly refused files: the camera shows failed with the last reason, one alert per run."""
        new = self.reader.rejected[self._rejected_seen :]
        self._rejected_seen = len(self.reader.rejected)
        if not new:
            return
        _, reason = new[-1]
        if self.stats.state != SourceState.FAILED.value:
            log.error(
                "thermal camera %s: %d file(s) refused, last %s", self.camera.camera_id, len(new), reason
            )
            self.alert(
                AlertKind.STAGE_REJECTED, AlertSeverity.WARNING, f"{len(new)} file(s) refused: {reason}"
            )
        self.stats.frames_corrupt += len(new)
        self.stats.state, self.stats.last_error = SourceState.FAILED.value, reason

    def _check_silence(self) -> None:
        """A live camera that stopped sending: the monitor's dropout timer, on the wall clock."""
        if not (self.learned and self._live):
            return
        alarm = self.monitor.check_silence(dt.datetime.now(dt.UTC))
        if alarm is not None:
            observation = ThermalObservation(alarm.raised_at, False, alarms=[alarm])
            self._put(self.reporter.results(observation, self._frame_id))
