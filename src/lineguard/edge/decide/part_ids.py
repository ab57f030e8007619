"""Which physical part a frame shows: the hooks that give frames a part identity.

In order of preference (``camera.parts.id_source``):

``line``     the source supplies the id with the frame (a conveyor encoder, a PLC or MES
             tag, the synthetic line): :class:`LinePartIds`.
``barcode``  a code printed on the part (DataMatrix, QR, Code 128…) read in the ROI with
             zxing-cpp: :class:`BarcodeReader`. A frame where the code is unreadable
             (motion blur, a hand over it) stays with the part seen just before, for up to
             ``hold_frames`` frames.
``trigger``  an external trigger — a photo-eye or PLC output — announces each new part
             (with its id, or without one: the node numbers them): :class:`TriggerInput`,
             fed in-process or over UDP by :class:`TriggerListener`.
``tracker``  none of those: :class:`ConveyorTracker` follows the bright part on the dark
             belt; a new part starts when the part's centre jumps back against the
             direction of travel (the next part entered) or after the belt was empty.

Whatever the source, :class:`ViewCheck` says whether the part is fully inside the ROI
and alone (no worker's arm, no second part): only such *complete* frames are judged on.

Each returns a :class:`Sighting`: the part's key (``None``: no part in view), the
plant's id if known, whether the part is fully inside the ROI and alone, and what was odd
(two codes or two blobs in view: ``two_parts_in_view``).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from lineguard.config.edge import PartsConfig
from lineguard.contracts.events import PartAnomaly, PartIdSource
from lineguard.contracts.types import CapturedFrame, Frame

__all__ = [
    "AutoPartIds",
    "BarcodeReader",
    "ConveyorTracker",
    "LinePartIds",
    "PartIdReader",
    "Sighting",
    "TriggerInput",
    "TriggerListener",
    "View",
    "ViewCheck",
    "ViewChecked",
    "part_id_reader",
]


@dataclass(frozen=True, slots=True)
class Sighting:
    """The part one frame shows, as far as the identity source can tell."""

    key: str | None
    part_id: str | None
    source: PartIdSource
    #: The part is fully inside the ROI and alone: a frame the fusion rule may judge on.
    complete: bool = True
    anomalies: frozenset[PartAnomaly] = frozenset()


class PartIdReader(Protocol):
    """Gives each frame its part; ``roi`` is the ROI crop the model sees."""

    source: PartIdSource

    def sight(self, frame: CapturedFrame, roi: Frame) -> Sighting: ...


class LinePartIds:
    """The id the source put on the frame (``CapturedFrame.part_id``)."""

    source = PartIdSource.LINE

    def sight(self, frame: CapturedFrame, roi: Frame) -> Sighting:
        return Sighting(frame.part_id, frame.part_id, self.source)


class BarcodeReader:
    """Reads a code on the part (zxing-cpp, imported on first use)."""

    source = PartIdSource.BARCODE

    def __init__(self, *, hold_frames: int = 3) -> None:
        import zxingcpp  # the edge extra; only cameras that read codes load it

        self._read = zxingcpp.read_barcodes
        self.hold_frames = hold_frames
        self._last: str | None = None
        self._misses = 0

    def sight(self, frame: CapturedFrame, roi: Frame) -> Sighting:
        found = self._read(roi)
        # Left to right: on a belt moving right, the last code is the leading part.
        codes = [b.text for b in sorted(found, key=lambda b: b.position.top_left.x) if b.text]
        distinct = list(dict.fromkeys(codes))
        if not distinct:
            self._misses += 1
            if self._last is not None and self._misses <= self.hold_frames:
                return Sighting(self._last, self._last, self.source, complete=False)
            self._last = None
            return Sighting(None, None, self.source)
        self._misses = 0
        if len(distinct) == 1:
            self._last = distinct[0]
            return Sighting(self._last, self._last, self.source)
        # Two parts in view: the frame stays with the part already being judged if it is
        # one of them (else the leading one), and no part is judged on it.
        key = self._last if self._last in distinct else distinct[-1]
        self._last = key
        return Sighting(key, key, self.source, complete=False, anomalies=frozenset({"two_parts_in_view"}))


class TriggerInput:
    """Frames belong to the part announced by the latest trigger (thread-safe)."""

    source = PartIdSource.TRIGGER

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self._current: tuple[str, str | None] | None = None

    def trigger(self, part_id: str | None = None) -> str:
        """A new part arrived; returns its key (its id, or ``trg-<n>`` when the line gives none)."""
        with self._lock:
            self._count += 1
            key = part_id or f"trg-{self._count:08d}"
            self._current = (key, part_id)
            return key

    def sight(self, frame: CapturedFrame, roi: Frame) -> Sighting:
        with self._lock:
            current = self._current
        if current is None:
            return Sighting(None, None, self.source)
        return Sighting(current[0], current[1], self.source)


class TriggerListener:
    """UDP trigger input on the node: each datagram is one part; its text, if any, is the id.

    A PLC or a photo-eye gateway sends ``b"P-1234"`` (or an empty datagram) to
    ``host:port`` when a part enters the station. Bind to loopback or a plant VLAN only.
    """

    def __init__(
        self, trigger: Callable[[str | None], str], *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self._trigger = trigger
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((host, port))
        self._sock.settimeout(0.2)
        self.address: tuple[str, int] = self._sock.getsockname()
        self.refused = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="part-trigger", daemon=True)

    def start(self) -> TriggerListener:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._sock.recv(256)
            except TimeoutError:
                continue
            except OSError:
                return
            text = data.decode("ascii", "replace").strip()
            if text and not _valid_id(text):
                self.refused += 1  # not an id we can store: counted, the part is still a part
                text = ""
            self._trigger(text or None)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sock.close()


def _valid_id(text: str) -> bool:
    return len(text) <= 128 and text[0].isalnum() and all(c.isalnum() or c in "._:-" for c in text)


@dataclass(frozen=True, slots=True)
class View:
    """What the ROI shows: the part's centre (0..1 of the ROI width), whether it is complete."""

    centre_x: float | None
    complete: bool
    anomalies: frozenset[PartAnomaly]


class ViewCheck:
    """Is the part fully inside the ROI and alone? (The frames the fusion rule judges on.)

    The part is what is brighter than ``min_gray`` (a steel part on a dark belt; set it for
    your line). The largest blob is the part; it is complete when it does not touch the
    ROI's edge and nothing else does (a worker reaching in, the next part entering). A
    second blob fully inside the ROI is a second part: ``two_parts_in_view``.
    """

    def __init__(self, *, min_gray: int = 110, min_area_fraction: float = 0.02) -> None:
        self.min_gray, self.min_area_fraction = min_gray, min_area_fraction

    def look(self, roi: Frame) -> View:
        width = 160
        small = cv2.resize(roi, (width, max(1, roi.shape[0] * width // max(roi.shape[1], 1))))
        gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
        mask = (gray > self.min_gray).astype(np.uint8)
        n, _, stats, centroids = cv2.connectedComponentsWithStats(mask)
        blobs = [i for i in range(1, n) if stats[i, cv2.CC_STAT_AREA] >= self.min_area_fraction * mask.size]
        if not blobs:
            return View(None, False, frozenset())
        h, w = mask.shape

        def inside(i: int) -> bool:
            left, top = stats[i, cv2.CC_STAT_LEFT], stats[i, cv2.CC_STAT_TOP]
            right, bottom = left + stats[i, cv2.CC_STAT_WIDTH], top + stats[i, cv2.CC_STAT_HEIGHT]
            return bool(left > 0 and top > 0 and right < w and bottom < h)

        main = max(blobs, key=lambda i: stats[i, cv2.CC_STAT_AREA])
        others_inside = [i for i in blobs if i != main and inside(i)]
        anomalies: frozenset[PartAnomaly] = frozenset({"two_parts_in_view"}) if others_inside else frozenset()
        complete = len(blobs) == 1 and inside(main)
        return View(float(centroids[main][0]) / w, complete, anomalies)


class ConveyorTracker:
    """No id from the line: follow the part on the belt (:class:`ViewCheck` finds it).

    A new part starts when the part's centre jumps back against the direction of travel
    by more than ``jump_fraction`` of the ROI width (the next part entered), or when a
    part appears after an empty belt.
    """

    source = PartIdSource.TRACKER

    def __init__(self, view: ViewCheck, *, jump_fraction: float = 0.05) -> None:
        self.view, self.jump_fraction = view, jump_fraction
        self._count = 0
        self._last_x: float | None = None

    def sight(self, frame: CapturedFrame, roi: Frame) -> Sighting:
        seen = self.view.look(roi)
        if seen.centre_x is None:
            self._last_x = None
            return Sighting(None, None, self.source)
        if self._last_x is None or seen.centre_x < self._last_x - self.jump_fraction:
            self._count += 1
        self._last_x = seen.centre_x
        return Sighting(f"trk-{self._count:08d}", None, self.source, seen.complete, seen.anomalies)


class ViewChecked:
    """Any identity source, with the view check deciding which frames are complete."""

    def __init__(self, reader: PartIdReader, view: ViewCheck) -> None:
        self.reader, self.view = reader, view
        self.source = reader.source

    def sight(self, frame: CapturedFrame, roi: Frame) -> Sighting:
        sighting = self.reader.sight(frame, roi)
        if sighting.key is None or isinstance(self.reader, ConveyorTracker):
            return sighting
        seen = self.view.look(roi)
        return Sighting(
            sighting.key,
            sighting.part_id,
            sighting.source,
            complete=sighting.complete and seen.complete,
            anomalies=sighting.anomalies | seen.anomalies,
        )


class AutoPartIds:
    """The source's id when a frame carries one, else the conveyor tracker."""

    def __init__(self, tracker: ConveyorTracker) -> None:
        self._line, self._tracker = LinePartIds(), tracker
        self.source = PartIdSource.LINE

    def sight(self, frame: CapturedFrame, roi: Frame) -> Sighting:
        reader: PartIdReader = self._line if frame.part_id is not None else self._tracker
        self.source = reader.source
        return reader.sight(frame, roi)


def part_id_reader(config: PartsConfig) -> tuple[PartIdReader, TriggerListener | None]:
    """The reader ``config`` names (its frames checked by :class:`ViewCheck`), and the
    trigger listener to start and stop with it (if any)."""
    view = ViewCheck(min_gray=config.tracker_min_gray)
    tracker = ConveyorTracker(view)
    listener = None
    reader: PartIdReader
    if config.id_source == "line":
        reader = LinePartIds()
    elif config.id_source == "barcode":
        reader = BarcodeReader(hold_frames=config.barcode_hold_frames)
    elif config.id_source == "tracker":
        reader = tracker
    elif config.id_source == "trigger":
        trigger = TriggerInput()
        reader = trigger
        listener = TriggerListener(trigger.trigger, host=config.trigger_host, port=config.trigger_port)
    else:
        reader = AutoPartIds(tracker)
    return ViewChecked(reader, view), listener
