"""What crosses the integrations boundary: the work order as sent, status coming back, views.

:class:`WorkOrder` is the metadata a CMMS receives (never an image: ``evidence_ref`` is
an opaque id a person opens in LineGuard). Each connector maps it to its product's
shape. :class:`StatusUpdate` is the signed body a CMMS posts back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DeliveryView", "DestinationView", "IntegrationsOverview", "Priority", "StatusUpdate", "WorkOrder"]

Priority = Literal["low", "medium", "high", "urgent"]


class WorkOrder(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    work_order_id: str = Field(
        min_length=1, max_length=128, description="LineGuard's id (the recommendation)."
    )
    idempotency_key: str = Field(
        min_length=1, max_length=128, description="Same on every retry of this order."
    )
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(max_length=2000)
    priority: Priority
    site_id: str = Field(max_length=64)
    line_id: str = Field(max_length=64)
    station_id: str | None = Field(default=None, max_length=64)
    camera_id: str | None = Field(default=None, max_length=64)
    asset_id: str | None = Field(default=None, max_length=64)
    location_id: str | None = Field(default=None, max_length=64)
    defect_class: str | None = Field(default=None, max_length=64)
    evidence_ref: str | None = Field(default=None, max_length=128, description="Opaque; never the image.")
    source: str = Field(max_length=200, description="The rule or model that raised it.")
    created_at: datetime


class StatusUpdate(BaseModel):
    """``POST /api/v1/integrations/cmms/{destination}/status`` (signed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    work_order_id: str = Field(min_length=1, max_length=128)
    external_id: str | None = Field(default=None, max_length=128)
    status: Literal["open", "in_progress", "on_hold", "closed", "cancelled"]
    note: str = Field(default="", max_length=500)


class DeliveryView(BaseModel):
    model_config = ConfigDict(extra="forbid")
    delivery_id: str
    destination: str
    work_order_id: str
    state: str
    attempts: int
    next_attempt_at: str | None
    last_error: str | None
    external_id: str | None
    created_at: str
    delivered_at: str | None


class DestinationView(BaseModel):
    """One destination on the dashboard; credentials are never part of it."""

    model_config = ConfigDict(extra="forbid")
    name: str
    kind: str
    target: str
    enabled: bool
    health: Literal["ok", "failing", "idle", "disabled"]
    queued: int
    dead_letters: int
    delivered: int
    last_error: str | None
    last_delivered_at: str | None


class IntegrationsOverview(BaseModel):
    model_config = ConfigDict(extra="forbid")
    destinations: list[DestinationView]
    mqtt: dict[str, object] | None
    egress_denied_since_start: int
