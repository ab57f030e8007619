"""The one door into the evidence store: nothing passes it unredacted.

Evidence frames (fail, uncertain, sampled pass) go through the camera's redaction mode
first (:class:`lineguard.edge.redact.Redactor`), then into the encrypted store. If the
redactor is missing or fails, *nothing* is stored: the event still goes to the outbox
(without an ``evidence_ref``), the failure is logged and counted, and the frame is
gone. A missed inspection image is recoverable; a stored image of a person is not.
"""

from __future__ import annotations

import logging
import threading

from lineguard.contracts.events import Verdict
from lineguard.contracts.types import CapturedFrame
from lineguard.edge.evidence.store import EvidenceStore
from lineguard.edge.redact import RedactionMode, Redactor

__all__ = ["EvidenceGate"]

log = logging.getLogger(__name__)


class EvidenceGate:
    def __init__(self, store: EvidenceStore, redactor: Redactor | None) -> None:
        self.evidence = store
        self.redactor = redactor
        self._lock = threading.Lock()
        self.stored = 0
        self.redaction_failures = 0
        self.store_failures = 0

    def store(
        self, frame: CapturedFrame, *, verdict: Verdict, event_id: str, mode: RedactionMode
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
