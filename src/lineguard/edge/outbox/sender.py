"""The sender worker: drains the outbox to the server in batches, with backoff.

Each round takes the oldest ``batch_size`` undelivered items, sends them as one
:class:`~lineguard.contracts.events.IngestBatch` and marks them sent only after the
server said yes. If the server is away the batch stays in the outbox and the next try
waits twice as long (with jitter, capped at ``retry_max_s``), so an outage of any
length costs nothing but delay; when it comes back the backlog drains at full batch
size. Heartbeats ride the same transport, never blocking the events. On a clean stop
:meth:`OutboxSender.final_flush` sends what the last frames produced.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from lineguard.contracts.events import (
    Alert,
    IngestBatch,
    InspectionEvent,
    NodeHeartbeat,
    PartVerdict,
    WorkOrderTrigger,
)
from lineguard.contracts.ppe import PpeCounts
from lineguard.contracts.stages import StageResult
from lineguard.edge.outbox.store import Outbox, OutboxItem
from lineguard.edge.outbox.transport import BatchRejectedError, Transport, TransportUnavailableError
from lineguard.edge.workers import Worker

__all__ = ["OutboxSender", "build_batch"]

log = logging.getLogger(__name__)


def build_batch(node_id: str, items: list[OutboxItem]) -> IngestBatch:
    events = [InspectionEvent.model_validate_json(i.body) for i in items if i.kind == "event"]
    alerts = [Alert.model_validate_json(i.body) for i in items if i.kind == "alert"]
    orders = [WorkOrderTrigger.model_validate_json(i.body) for i in items if i.kind == "work_order"]
    parts = [PartVerdict.model_validate_json(i.body) for i in items if i.kind == "part"]
    stage_results = [StageResult.model_validate_json(i.body) for i in items if i.kind == "stage"]
    ppe_counts = [PpeCounts.model_validate_json(i.body) for i in items if i.kind == "ppe"]
    return IngestBatch(
        node_id=node_id,
        sent_at=datetime.now(UTC),
        events=events,
        alerts=alerts,
        work_orders=orders,
        parts=parts,
        stage_results=stage_results,
        ppe_counts=ppe_counts,
    )


class OutboxSender(Worker):
    def __init__(
        self,
        stop: threading.Event,
        *,
        outbox: Outbox,
        transport: Transport,
        node_id: str,
        batch_size: int = 100,
        flush_interval_s: float = 0.2,
        retry_max_s: float = 30.0,
        heartbeat: Callable[[], NodeHeartbeat] | None = None,
        heartbeat_interval_s: float = 10.0,
    ) -> None:
        super().__init__("outbox-sender", stop)
        self.outbox = outbox
        self.transport = transport
        self.node_id = node_id
        self.batch_size = min(batch_size, 100)  # 100 work orders is the batch's cap
        self.flush_interval_s = flush_interval_s
        self.retry_max_s = retry_max_s
        self.heartbeat = heartbeat
        self.heartbeat_interval_s = heartbeat_interval_s
        self._backoff_s = 0.0
        self._next_heartbeat = 0.0
        self.sent = 0
        self.rejected = 0
        self.failures = 0
        self.connected = False
        self.last_error: str | None = None

    def step(self) -> None:
        self._maybe_heartbeat()
        items = self.outbox.pending(self.batch_size)
        if not items:
            self.stop_event.wait(self.flush_interval_s)
            return
        if len(items) < self.batch_size:  # let a batch fill a little before sending
            self.stop_event.wait(self.flush_interval_s / 4)
            items = self.outbox.pending(self.batch_size)
        try:
            self.transport.send_batch(build_batch(self.node_id, items))
        except TransportUnavailableError as exc:
            self._failed(exc)
            return
        except BatchRejectedError as exc:
            # Never drop silently: kept in the outbox as 'rejected', logged, counted.
            log.error("server rejected %d outbox items: %s", len(items), exc)  # noqa: TRY400
            self.outbox.mark_rejected([i.seq for i in items])
            self.rejected += len(items)
            return
        self.outbox.mark_sent([i.seq for i in items])
        self.sent += len(items)
        self.connected, self._backoff_s, self.last_error = True, 0.0, None

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        self.connected = False
        self.last_error = str(exc)
        self._backoff_s = min(max(self._backoff_s * 2, 0.5), self.retry_max_s)
        delay = self._backoff_s * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not crypto
        log.warning("outbox: %s; %d waiting, retry in %.1fs", exc, self.outbox.backlog(), delay)
        self.stop_event.wait(delay)

    def _maybe_heartbeat(self) -> None:
        if self.heartbeat is None or time.monotonic() < self._next_heartbeat:
            return
        self._next_heartbeat = time.monotonic() + self.heartbeat_interval_s
        try:
            self.transport.send_heartbeat(self.heartbeat())
        except (TransportUnavailableError, BatchRejectedError) as exc:
            log.debug("heartbeat not delivered: %s", exc)

    def final_flush(self, budget_s: float = 3.0) -> int:
        """On a clean stop (every camera already stopped): send what is left, briefly.

        Whatever cannot be sent within ``budget_s`` simply stays in the outbox for the
        next start. Closes the transport. Returns the number of items sent.
        """
        deadline = time.monotonic() + budget_s
        sent_before = self.sent
        try:
            while time.monotonic() < deadline:
                items = self.outbox.pending(self.batch_size)
                if not items:
                    break
                self.transport.send_batch(build_batch(self.node_id, items))
                self.outbox.mark_sent([i.seq for i in items])
                self.sent += len(items)
        except (TransportUnavailableError, BatchRejectedError) as exc:
            log.info("final flush stopped: %s; %d items wait for the next start", exc, self.outbox.backlog())
        finally:
            self.transport.close()
        return self.sent - sent_before
