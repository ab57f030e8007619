"""The one door into the evidence store: nothing passes it unredacted, and only the part.

Evidence (fail, uncertain, sampled pass) is cut down at :meth:`EvidenceGate.submit`,
on the inspection path, to the camera's stored region (:mod:`lineguard.edge.evidence.region`:
the inspection ROI plus a small margin, the whole frame only with a written purpose) and
a context window around it that the redactor looks at, in memory only. The redactor
(:class:`lineguard.edge.redact.Redactor`, the camera's redaction mode) runs on the window
— a hand reaching into the crop is recognised with the arm and body it belongs to —
and only the stored region of the redacted window goes into the encrypted store. If
the redactor is missing or fails, *nothing* is stored: the failure is logged and
counted, and the crop is gone. A missed inspection image is
recoverable; a stored image of a person is not.

When redaction hides pixels inside a defect region, the stored record says so
(``defect_hidden``, signed with the image and shown beside it on the dashboard): a
reviewer must know that the defect may be larger than what they see.

Person detection costs far more than inspecting a frame, so it never runs on the
inspection path: :meth:`EvidenceGate.submit` mints the evidence id (which the event
carries at once) and queues the crop for :class:`EvidenceWriter`, a worker of its own.
The queue (:class:`~lineguard.edge.evidence.shed_queue.ShedQueue`) is bounded; when
evidence arrives faster than it can be redacted, passing samples are shed first, then
uncertain parts, a failed part's evidence last, each drop counted per category
(``evidence_dropped``), and a shed item's id stays unresolved, exactly like an id whose
object retention later shredded. On shutdown the writer finishes what is queued within
a few seconds and counts what it abandons.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from lineguard.contracts.events import BoundingBox, Verdict
from lineguard.contracts.ids import new_id
from lineguard.contracts.types import CapturedFrame
from lineguard.edge.evidence.region import EvidenceCrop, cut
from lineguard.edge.evidence.shed_queue import ShedQueue
from lineguard.edge.evidence.store import EvidenceStore
from lineguard.edge.redact import RedactionMode, Redactor
from lineguard.edge.stats import LatencyWindow
from lineguard.edge.workers import Worker

__all__ = ["EvidenceGate", "EvidenceWriter"]

#: Crops waiting for redaction, at most (a 640x480 ROI crop holds ~1 MB, a 720p frame 2.7 MB).
QUEUE_ITEMS = 64
#: ... and at most this much memory together.
QUEUE_BYTES = 96 * 2**20


def _worth_logging(count: int) -> bool:
    """True for the 1st, 10th and 100th drop, then every 1000th: a flood stays readable."""
    return count >= 1 and (count % 1000 == 0 or count in {1, 10, 100})


@dataclass(frozen=True, slots=True)
class _Pending:
    crop: EvidenceCrop
    camera_id: str
    captured_at: datetime
    verdict: Verdict
    event_id: str
    mode: RedactionMode
    evidence_id: str
    queued_ns: int


log = logging.getLogger(__name__)


class EvidenceGate:
    def __init__(
        self,
        store: EvidenceStore,
        redactor: Redactor | None,
        *,
        redactor_factory: Callable[[], Redactor | None] | None = None,
    ) -> None:
        self.evidence = store
        self.redactor = redactor
        #: Builds the redactor inside the (low-priority) writer thread, see :class:`EvidenceWriter`.
        self.redactor_factory = redactor_factory
        self._lock = threading.Lock()
        self.queue: ShedQueue[_Pending] = ShedQueue(QUEUE_ITEMS, QUEUE_BYTES, lambda p: p.crop.nbytes)
        #: Frame queued → evidence object written (redaction and encryption included).
        self.latency = LatencyWindow(512)
        self.stored = 0
        self.redaction_failures = 0
        self.store_failures = 0
        #: Crops still queued when the node stopped, or offered after the writer stopped.
        self.abandoned = 0
        #: Stored images in which redaction hid part of a defect region.
        self.defect_hidden = 0
        #: Set when the writer has stopped: nothing queued after that would ever be stored.
        self.closed = False

    @property
    def dropped(self) -> int:
        return self.queue.dropped

    @property
    def dropped_by_category(self) -> dict[str, int]:
        """Evidence shed under load, per verdict: passes go first, fails last."""
        return {verdict.value: count for verdict, count in self.queue.dropped_by.items()}

    def submit(
        self,
        frame: CapturedFrame,
        *,
        verdict: Verdict,
        event_id: str,
        mode: RedactionMode,
        region: BoundingBox,
        defects: Sequence[BoundingBox] = (),
        context_of: BoundingBox | None = None,
    ) -> str | None:
        """Cut ``region`` (and its context window) out of the frame and queue it; returns the
        id it will be stored under (``None`` once the writer has stopped: an event must not
        name evidence that will never exist).

        ``region`` (frame pixels) is what is stored: the camera's stored region, or the part
        of it around the defects (``evidence.crop: defects``), in which case ``context_of`` is
        the whole stored region, whose context window the redactor looks at. ``defects`` are
        the event's defect boxes (frame pixels). The frame itself is not kept past this call.
        """
        if self.closed:
            self.abandoned += 1
            return None
        evidence_id = new_id("evd")
        item = _Pending(
            cut(frame.image, region, defects, context_of=context_of),
            frame.camera_id,
            frame.captured_at,
            verdict,
            event_id,
            mode,
            evidence_id,
            time.perf_counter_ns(),
        )
        shed = self.queue.put(item, verdict)
        if shed and _worth_logging(self.dropped):
            # Every drop is counted (metrics, status); the log gets the 1st, 10th, 100th, ...
            log.warning(
                "evidence queue full: %s evidence shed (%d so far: %s)",
                shed[-1].verdict.value,
                self.dropped,
                self.dropped_by_category,
            )
        return evidence_id

    def drain_one(self, timeout_s: float) -> bool:
        """Redact and store the oldest queued frame; ``False`` when none came within the timeout."""
        item = self.queue.get(timeout_s)
        if item is None:
            return False
        self.store(
            item.crop,
            camera_id=item.camera_id,
            captured_at=item.captured_at,
            verdict=item.verdict,
            event_id=item.event_id,
            mode=item.mode,
            evidence_id=item.evidence_id,
        )
        self.latency.add((time.perf_counter_ns() - item.queued_ns) / 1e6)
        return True

    def store(
        self,
        crop: EvidenceCrop,
        *,
        camera_id: str,
        captured_at: datetime,
        verdict: Verdict,
        event_id: str,
        mode: RedactionMode,
        evidence_id: str | None = None,
    ) -> str | None:
        """Redact, then store; the evidence id, or ``None`` when nothing could be stored safely."""
        if self.redactor is None:
            self._count("redaction_failures")
            log.error("camera %s: no redactor available; evidence not stored", camera_id)
            return None
        try:
            # The redactor looks at the context window (people reaching in are seen whole);
            # only the stored region of what it returns is kept.
            redacted = self.redactor.redact(crop.context, mode)
            image, hidden = crop.stored(redacted.image), crop.stored(redacted.hidden)
        except Exception as exc:  # any failure, typed or not, means: store nothing
            self._count("redaction_failures")
            log.error("camera %s: redaction failed, evidence not stored: %s", camera_id, exc)  # noqa: TRY400
            return None
        defect_hidden = any(hidden[y0:y1, x0:x1].any() for x0, y0, x1, y1 in crop.defects)
        redaction = f"{mode}:{self.redactor.model_id}:{len(redacted.regions)}"
        try:
            record = self.evidence.put(
                image,
                category=verdict.value,
                camera_id=camera_id,
                event_id=event_id,
                captured_at=captured_at,
                redaction=redaction[:200],
                evidence_id=evidence_id,
                region=crop.region,
                defect_hidden=defect_hidden,
            )
        except Exception as exc:
            self._count("store_failures")
            log.error("camera %s: evidence could not be stored: %s", camera_id, exc)  # noqa: TRY400
            return None
        self._count("stored")
        if defect_hidden:
            self._count("defect_hidden")
            log.info("evidence %s: defect partly hidden by privacy redaction", record.evidence_id)
        return record.evidence_id

    def _count(self, name: str) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)


class EvidenceWriter(Worker):
    """Drains the gate's queue: redaction and encryption off the inspection path."""

    def __init__(self, stop: threading.Event, gate: EvidenceGate) -> None:
        super().__init__("evidence-writer", stop)
        self.gate = gate
        #: Workers that submit evidence: on shutdown the writer lets them finish (the part
        #: in view is reported, with its image) before it closes the gate and drains.
        self.producers: list[Worker] = []

    #: Niceness of the writer thread: inspection always gets the CPU first.
    niceness = 10

    def setup(self) -> None:
        # Linux schedules threads individually and new threads inherit the creator's
        # niceness, so building the redactor here puts its model thread pools at low
        # priority too: on a 2-core node a burst of evidence slows evidence, not inspection.
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.niceness)
        except (AttributeError, OSError) as exc:  # not Linux, or not permitted
            log.info("evidence writer keeps normal priority: %s", exc)
        if self.gate.redactor is None and self.gate.redactor_factory is not None:
            self.gate.redactor = self.gate.redactor_factory()

    def step(self) -> None:
        self.gate.drain_one(0.1)

    #: On shutdown, finish queued evidence for at most this long; the rest is dropped and counted.
    drain_budget_s = 3.0

    def teardown(self) -> None:
        deadline = time.monotonic() + self.drain_budget_s
        for producer in self.producers:
            producer.join(max(0.0, deadline - time.monotonic()))
        self.gate.closed = True
        while time.monotonic() < deadline and self.gate.drain_one(0.0):
            pass
        left = len(self.gate.queue)
        if left:
            self.gate.abandoned += left
            log.warning("shutdown: %d queued evidence frames not stored", left)
