"""What ingest answers. A retried batch gets the same acknowledgement as the first try:
every item is acknowledged; ``duplicates`` counts those already stored before."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["HeartbeatReceipt", "IngestReceipt"]


class IngestReceipt(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    node_id: str
    #: Every item of the batch is durably stored (now or by an earlier delivery).
    acknowledged: int
    stored: int
    duplicates: int


class HeartbeatReceipt(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    node_id: str
    cameras: int
