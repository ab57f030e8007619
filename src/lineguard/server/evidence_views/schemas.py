"""What the evidence-view routes answer: a browser while a node is asked; an operator about replicas."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ReplicaOut", "RevokeReplicaRequest", "ViewPending"]


class ViewPending(BaseModel):
    """202: the node has not answered yet; poll again after ``retry_after_ms``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    view_id: str
    status: Literal["pending"] = "pending"
    node_id: str
    retry_after_ms: int


class ReplicaOut(BaseModel):
    """A server replica registered for the internal evidence-view relay."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    replica_id: str
    host: str
    port: int
    started_at: datetime
    heartbeat_at: datetime
    heartbeat_age_s: float = Field(description="Seconds since its last heartbeat, on the database's clock.")
    alive: bool = Field(description="Beating within the liveness limit and not revoked.")
    revoked: bool
    clock_skew_s: float = Field(description="Its host clock minus the database's, last measured.")
    refused_connections: int = Field(description="Connections its relay refused since it started.")
    ca_role: str = Field(
        description="Plant CA role: leader (signs for the others), issuer (standby) or none (no CA key)."
    )


class RevokeReplicaRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: str = Field(min_length=1, max_length=500)
