"""Store and forward: a durable SQLite outbox, drained to the plant server over mTLS."""

from __future__ import annotations

from lineguard.edge.outbox.sender import OutboxSender, build_batch
from lineguard.edge.outbox.store import Outbox, OutboxItem
from lineguard.edge.outbox.transport import (
    BATCH_PATH,
    HEARTBEAT_PATH,
    BatchRejectedError,
    HttpsTransport,
    MemoryIngestServer,
    MemoryTransport,
    Transport,
    TransportUnavailableError,
)

__all__ = [
    "BATCH_PATH",
    "HEARTBEAT_PATH",
    "BatchRejectedError",
    "HttpsTransport",
    "MemoryIngestServer",
    "MemoryTransport",
    "Outbox",
    "OutboxItem",
    "OutboxSender",
    "Transport",
    "TransportUnavailableError",
    "build_batch",
]
