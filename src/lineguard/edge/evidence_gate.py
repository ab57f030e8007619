"""The one door into the evidence store: nothing passes it unredacted.

Evidence frames (fail, uncertain, sampled pass) go through the camera's redaction mode
first (:class:`lineguard.edge.redact.Redactor`), then into the encrypted store. If the
redactor is missing or fails, *nothing* is stored: the failure is logged and counted,
and the frame is gone. A missed inspection image is recoverable; a stored image of a
person is not.

Person detection costs far more than inspecting a frame, so it never runs on the
inspection path: :meth:`EvidenceGate.submit` mints the evidence id (which the event
carries at once) and queues the frame for :class:`EvidenceWriter`, a worker of its
own. The queue is bounded; if evidence arrives faster than it can be redacted, the
oldest queued frame is dropped and counted (``evidence_dropped``) and its id stays
unresolved, exactly like an id whose object retention later shredded. On shutdown the
writer finishes what is queued within a few seconds and counts what it abandons.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from lineguard.contracts.events import Verdict
from lineguard.contracts.ids import new_id
from lineguard.contracts.types import CapturedFrame
from lineguard.edge.evidence.store import EvidenceStore
from lineguard.edge.redact import RedactionMode, Redactor
from lineguard.edge.stats import LatencyWindow
from lineguard.edge.workers import LatestQueue, Worker

__all__ = ["EvidenceGate", "EvidenceWriter"]

#: Frames waiting for redaction; at 720p each holds 2.7 MB of memory.
QUEUE_FRAMES = 32


def _worth_logging(count: int) -> bool:
    """True for the 1st, 10th and 100th drop, then every 1000th: a flood stays readable."""
    return count >= 1 and (count % 1000 == 0 or count in {1, 10, 100})


@dataclass(frozen=True, slots=True)
class _Pending:
    frame: CapturedFrame
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
        self.queue: LatestQueue[_Pending] = LatestQueue(QUEUE_FRAMES)
        #: Frame queued → evidence object written (redaction and encryption included).
        self.latency = LatencyWindow(512)
        self.stored = 0
        self.redaction_failures = 0
        self.store_failures = 0
        #: Frames still queued when the node stopped.
        self.abandoned = 0

    @property
    def dropped(self) -> int:
        return self.queue.dropped

    def submit(self, frame: CapturedFrame, *, verdict: Verdict, event_id: str, mode: RedactionMode) -> str:
        """Queue a frame for redaction and storage; returns the id it will be stored under."""
        evidence_id = new_id("evd")
        item = _Pending(frame, verdict, event_id, mode, evidence_id, time.perf_counter_ns())
        if self.queue.put(item) is not None and _worth_logging(self.dropped):
            # Every drop is counted (metrics, status); the log gets the 1st, 10th, 100th, ...
            log.warning("evidence queue full: oldest queued evidence frame dropped (%d so far)", self.dropped)
        return evidence_id

    def drain_one(self, timeout_s: float) -> bool:
        """Redact and store the oldest queued frame; ``False`` when none came within the timeout."""
        item = self.queue.get(timeout_s)
        if item is None:
            return False
        self.store(
            item.frame,
            verdict=item.verdict,
            event_id=item.event_id,
            mode=item.mode,
            evidence_id=item.evidence_id,
        )
        self.latency.add((time.perf_counter_ns() - item.queued_ns) / 1e6)
        return True

    def store(
        self,
        frame: CapturedFrame,
        *,
        verdict: Verdict,
        event_id: str,
        mode: RedactionMode,
        evidence_id: str | None = None,
    ) -> str | None:
        """Redact, then store; the evidence id, or ``None`` when nothing could be stored safely."""
        if self.redactor is None:
            self._count("redaction_failures")
            log.error("camera %s: no redactor available; evidence not stored", frame.camera_id)
            return None
        try:
            redacted = self.redactor.redact(frame.image, mode)
        except Exception as exc:  # any failure, typed or not, means: store nothing
            self._count("redaction_failures")
            log.error("camera %s: redaction failed, evidence not stored: %s", frame.camera_id, exc)  # noqa: TRY400
            return None
        redaction = f"{mode}:{self.redactor.model_id}:{len(redacted.regions)}"
        try:
            record = self.evidence.put(
                redacted.image,
                category=verdict.value,
                camera_id=frame.camera_id,
                event_id=event_id,
                captured_at=frame.captured_at,
                redaction=redaction[:200],
                evidence_id=evidence_id,
            )
        except Exception as exc:
            self._count("store_failures")
            log.error("camera %s: evidence could not be stored: %s", frame.camera_id, exc)  # noqa: TRY400
            return None
        self._count("stored")
        return record.evidence_id

    def _count(self, name: str) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)


class EvidenceWriter(Worker):
    """Drains the gate's queue: redaction and encryption off the inspection path."""

    def __init__(self, stop: threading.Event, gate: EvidenceGate) -> None:
        super().__init__("evidence-writer", stop)
        self.gate = gate

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
        while time.monotonic() < deadline and self.gate.drain_one(0.0):
            pass
        left = len(self.gate.queue)
        if left:
            self.gate.abandoned += left
            log.warning("shutdown: %d queued evidence frames not stored", left)
