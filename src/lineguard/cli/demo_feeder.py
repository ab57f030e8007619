"""Feeds the demo's stations (:mod:`lineguard.cli.demo_stations`) one frame at a time.

A thread of the ``lineguard demo`` process. Bracket, label and walkway frames are copied from
their pools (rendered once) under a new part id (``B-000001``, ``L-000001``, ``W-000001``: the
folder camera takes the file name as the part id; the walkway's counts carry none); thermal
frames are rendered as they are due, named by their capture time. Each file is written under
a temporary name and renamed, so a camera never reads half a file, and files older than
:data:`KEEP_S` are deleted (the node read them long before). What was fed is counted in
:attr:`StationFeeder.fed`, so the demo can say it; what the walkway's frames held, per hour,
in :class:`~lineguard.cli.demo_walkway.WalkwayFed`.

The motor's scene is evaluated at a fixed time of day (its load and the ambient air do not
drift over a long demo, which a band learned in two minutes could not follow), plus the
time the motor has been heating in the current cycle; the frame is stamped with the real
time.
"""

from __future__ import annotations

import datetime as dt
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lineguard.cli.demo_stations import (
    GAUGE_CAMERA,
    GAUGE_EVERY_S,
    GAUGE_POOL,
    HEAT_C_PER_MIN,
    HEAT_S,
    LABEL_CAMERA,
    LABEL_EVERY_S,
    LABEL_POOL,
    NORMAL_S,
    THERMAL_CAMERA,
    THERMAL_EVERY_S,
    THERMAL_LEARN_S,
    WALKWAY_CAMERA,
    StationLayout,
    thermal_learn_s,
)
from lineguard.cli.demo_walkway import WALKWAY_EVERY_S, WalkwayFed

__all__ = ["KEEP_S", "StationFeeder", "heating_s"]

#: Fed files are deleted after this long.
KEEP_S = 120.0
#: The motor scene's time of day (day shift: the motor at full load).
SCENE_TIME = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)


def heating_s(elapsed_s: float, learn_s: float = THERMAL_LEARN_S) -> float:
    """How long the motor has been heating ``elapsed_s`` after the feeder started (0: running normally).

    Normal while the node learns its bands (``learn_s``), then cycles of NORMAL_S normal and
    HEAT_S heating."""
    since = elapsed_s - learn_s
    if since < 0:
        return 0.0
    return max(0.0, since % (NORMAL_S + HEAT_S) - NORMAL_S)


def _drop(folder: Path, name: str, write: Any) -> None:
    """Write through ``write(tmp_path)`` in ``folder/.incoming`` (which no camera watches) and rename
    into ``folder``: the camera sees whole files only."""
    incoming = folder / ".incoming"
    incoming.mkdir(exist_ok=True)
    write(incoming / name)
    (incoming / name).replace(folder / name)


def _imwrite(path: Path, image: Any) -> None:
    import cv2

    if not cv2.imwrite(str(path), image, [cv2.IMWRITE_PNG_COMPRESSION, 1]):
        msg = f"could not write {path}"
        raise OSError(msg)


class StationFeeder(threading.Thread):
    """Drops the stations' frames until ``stop`` is set."""

    def __init__(self, stations: StationLayout, stop: threading.Event, say: Callable[[str], None]) -> None:
        super().__init__(name="demo-stations", daemon=True)
        self.stations, self.stop_event, self.say = stations, stop, say
        #: What was fed: ``brackets``, ``brackets_out_of_tolerance``, ``labels``, ``labels_wrong``,
        #: ``thermal_frames``, ``walkway_frames``.
        self.fed: Counter[str] = Counter()
        #: Part id → what was wrong with it (None: a good part), for scoring the stations' verdicts.
        self.truth: dict[str, str | None] = {}
        self._gauge = sorted(stations.gauge_pool.glob("*.png"))
        self._labels = sorted(stations.label_pool.glob("*.png"))
        self._walkway = sorted(stations.walkway_pool.glob("*.png"))
        self.walkway = WalkwayFed(stations)
        self._scene: Any = None
        self._last_thermal = ""
        self._learn_s = thermal_learn_s()

    def _copy(self, camera_id: str, pool: list[Path], prefix: str, index: int) -> str:
        """Drop the pool's next image under a new part id; returns the part id."""
        source = pool[index % len(pool)]
        part = f"{prefix}-{index + 1:06d}"
        _drop(self.stations.frames(camera_id), f"{part}.png", lambda t: shutil.copyfile(source, t))
        return part

    def _thermal(self, elapsed_s: float) -> None:
        from lineguard.edge.thermal.synthetic import Fault, ThermalScene, to_centi_kelvin

        if self._scene is None:
            # One overheat fault starting at the scene's fixed time: the scene is evaluated that
            # many seconds after it while the motor heats, and exactly at it otherwise.
            fault = Fault("overheat", SCENE_TIME, rate_c_per_h=HEAT_C_PER_MIN * 60)
            self._scene = ThermalScene(seed=11, faults=(fault,), epoch=SCENE_TIME)
        heating = heating_s(elapsed_s, self._learn_s)
        frame = self._scene.frame(SCENE_TIME + dt.timedelta(seconds=heating))
        name = f"motor-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}Z.png"
        if name == self._last_thermal:
            return  # a second frame within one second would replace the first: skip it
        self._last_thermal = name
        image = to_centi_kelvin(frame.celsius)
        _drop(self.stations.frames(THERMAL_CAMERA), name, lambda path: _imwrite(path, image))
        self.fed["thermal_frames"] += 1
        self.fed["thermal_frames_heating"] += heating > 0

    def _prune(self) -> None:
        cutoff = time.time() - KEEP_S
        for camera_id in (GAUGE_CAMERA, LABEL_CAMERA, THERMAL_CAMERA, WALKWAY_CAMERA):
            for path in self.stations.frames(camera_id).glob("*.png"):
                try:
                    if path.stat().st_mtime < cutoff:
                        path.unlink()
                except OSError:
                    continue  # gone meanwhile

    def run(self) -> None:
        start = time.monotonic()
        due = {
            "gauge": start + 1.0,
            "label": start + 2.0,
            "thermal": start,
            "walkway": start + 3.0,
            "prune": start,
        }
        while not self.stop_event.is_set():
            now = time.monotonic()
            try:
                if now >= due["gauge"]:
                    index = self.fed["brackets"]
                    part = self._copy(GAUGE_CAMERA, self._gauge, "B", index)
                    change = GAUGE_POOL[index % len(GAUGE_POOL)]
                    self.truth[part] = None if change is None else f"{change[0]}_out_of_tolerance"
                    self.fed["brackets"] += 1
                    self.fed["brackets_out_of_tolerance"] += change is not None
                    due["gauge"] = time.monotonic() + GAUGE_EVERY_S
                if now >= due["label"]:
                    index = self.fed["labels"]
                    part = self._copy(LABEL_CAMERA, self._labels, "L", index)
                    wrong = LABEL_POOL[index % len(LABEL_POOL)]
                    self.truth[part] = f"wrong_{'_'.join(sorted(wrong))}" if wrong else None
                    self.fed["labels"] += 1
                    self.fed["labels_wrong"] += bool(wrong)
                    due["label"] = time.monotonic() + LABEL_EVERY_S
                if now >= due["thermal"]:
                    self._thermal(now - start)
                    due["thermal"] = time.monotonic() + THERMAL_EVERY_S
                if now >= due["walkway"]:
                    index = self.fed["walkway_frames"]
                    self._copy(WALKWAY_CAMERA, self._walkway, "W", index)
                    self.walkway.add(index, dt.datetime.now(dt.UTC))
                    self.fed["walkway_frames"] += 1
                    due["walkway"] = time.monotonic() + WALKWAY_EVERY_S
                if now >= due["prune"]:
                    self._prune()
                    due["prune"] = now + 30.0
            except Exception as error:  # a full disk, a removed folder: say so, keep the demo up
                self.say(
                    f"stations: a frame could not be fed ({type(error).__name__}: {error}); trying again"
                )
                self.stop_event.wait(5.0)
            self.stop_event.wait(max(0.05, min(due.values()) - time.monotonic()))
