"""How batches reach the plant server: one interface, an HTTPS transport and a fake.

:class:`HttpsTransport` posts the JSON of an
:class:`~lineguard.contracts.events.IngestBatch` to ``/api/v1/ingest/batch`` (and a
:class:`~lineguard.contracts.events.NodeHeartbeat` to ``/api/v1/ingest/heartbeat``)
with an ``httpx.Client`` that carries the node's client certificate and pins the plant
CA (:func:`lineguard.edge.identity.https_client`). Only these JSON documents are ever
sent: the wire contracts have no field that can hold image bytes.

Errors are split by what the sender should do: :class:`TransportUnavailableError` (network
down, timeouts, 5xx, 401/403/429: retry later, keep the items) and
:class:`BatchRejectedError` (400/413/422: the server will never accept these items; retrying
would block the queue forever).

:class:`MemoryIngestServer` + :class:`MemoryTransport` are the fake beside this
boundary: an in-process receiver that deduplicates by idempotency key exactly as the
server does, and can be taken down to simulate an outage.
"""

from __future__ import annotations

import threading
from typing import Protocol

import httpx

from lineguard.contracts.errors import ContractError, LineGuardError
from lineguard.contracts.events import (
    IngestBatch,
    NodeHeartbeat,
)
from lineguard.edge.outbox.store import OutboxMessage

__all__ = [
    "BATCH_PATH",
    "HEARTBEAT_PATH",
    "BatchRejectedError",
    "HttpsTransport",
    "MemoryIngestServer",
    "MemoryTransport",
    "Transport",
    "TransportUnavailableError",
]

BATCH_PATH = "/api/v1/ingest/batch"
HEARTBEAT_PATH = "/api/v1/ingest/heartbeat"
_PERMANENT = {400, 413, 422}


class TransportUnavailableError(LineGuardError):
    """The server could not take the batch now; try again later."""

    code = "server_unavailable"
    http_status = 503


class BatchRejectedError(ContractError):
    """The server refused the batch as invalid; resending it cannot succeed."""


class Transport(Protocol):
    def send_batch(self, batch: IngestBatch) -> None: ...

    def send_heartbeat(self, heartbeat: NodeHeartbeat) -> None: ...

    def close(self) -> None: ...


class HttpsTransport:
    """Posts to the plant server with a ready-made (mTLS) ``httpx.Client``."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def _post(self, path: str, body: bytes) -> None:
        try:
            response = self.client.post(path, content=body, headers={"content-type": "application/json"})
        except httpx.HTTPError as exc:
            msg = f"cannot reach the server: {type(exc).__name__}: {exc}"
            raise TransportUnavailableError(msg) from exc
        if response.status_code in _PERMANENT:
            msg = f"server refused {path} with {response.status_code}: {response.text[:300]}"
            raise BatchRejectedError(msg)
        if response.status_code >= 300:
            msg = f"server answered {path} with {response.status_code}"
            raise TransportUnavailableError(msg)

    def send_batch(self, batch: IngestBatch) -> None:
        self._post(BATCH_PATH, batch.model_dump_json().encode())

    def send_heartbeat(self, heartbeat: NodeHeartbeat) -> None:
        self._post(HEARTBEAT_PATH, heartbeat.model_dump_json().encode())

    def close(self) -> None:
        self.client.close()


class MemoryIngestServer:
    """An in-memory plant server: dedups by idempotency key, can be switched off."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.up = True
        self.items: dict[str, object] = {}
        self.deliveries = 0
        self.duplicates = 0
        self.heartbeats: list[NodeHeartbeat] = []

    def receive(self, batch: IngestBatch) -> None:
        with self.lock:
            if not self.up:
                msg = "memory server is down"
                raise TransportUnavailableError(msg)
            items: list[OutboxMessage] = [
                *batch.events,
                *batch.alerts,
                *batch.work_orders,
                *batch.parts,
                *batch.stage_results,
                *batch.ppe_counts,
            ]
            for item in items:
                self.deliveries += 1
                if item.idempotency_key in self.items:
                    self.duplicates += 1
                else:
                    self.items[item.idempotency_key] = item


class MemoryTransport:
    def __init__(self, server: MemoryIngestServer) -> None:
        self.server = server

    def send_batch(self, batch: IngestBatch) -> None:
        self.server.receive(IngestBatch.model_validate_json(batch.model_dump_json()))

    def send_heartbeat(self, heartbeat: NodeHeartbeat) -> None:
        with self.server.lock:
            if not self.server.up:
                msg = "memory server is down"
                raise TransportUnavailableError(msg)
            self.server.heartbeats.append(heartbeat)

    def close(self) -> None:
        pass
