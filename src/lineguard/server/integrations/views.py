"""Integrations routes (thin): overview, deliveries, replay, probe, the CMMS status webhook,
the auto-approval policy, and the review routes of work-order recommendations
(``/reviews/work_order``, from the review domain's :func:`review_router`)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from lineguard.contracts.errors import NotFoundError, PayloadTooLargeError
from lineguard.server.auth import Access, Action, allow_public, require
from lineguard.server.context import ServerContext, get_context, get_session
from lineguard.server.integrations import service
from lineguard.server.integrations.probe import ProbeResult, probe
from lineguard.server.integrations.recommendations import (
    RULES,
    WORK_ORDER,
    policies,
    set_auto_approval_in_transaction,
)
from lineguard.server.integrations.schemas import DeliveryView, IntegrationsOverview
from lineguard.server.integrations.status import receive_status
from lineguard.server.review import review_router

__all__ = ["router"]

api = APIRouter(prefix="/integrations", tags=["integrations"])

#: A status message is a few hundred bytes; anything far larger is refused before parsing.
MAX_STATUS_BYTES = 16_384

Read = Annotated[Access, Depends(require(Action.INTEGRATIONS_READ))]
Write = Annotated[Access, Depends(require(Action.INTEGRATIONS_WRITE))]
DbSession = Annotated[Session, Depends(get_session)]
Signed = Depends(
    allow_public("authenticated by the CMMS's HMAC signature over the body (integrations.status_webhook)")
)


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    delivery_ids: list[str] = Field(default_factory=list, max_length=1000)


class ReplayResult(BaseModel):
    model_config = ConfigDict(extra="forbid")
    replayed: int


class StatusAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    work_order_id: str
    result: str
    alerts_closed: int


def _known(context: ServerContext, destination: str) -> None:
    if destination not in context.integrations.connectors:
        msg = f"no CMMS destination named {destination[:64]!r}"
        raise NotFoundError(msg)


@api.get("", summary="CMMS destinations (health, queue depth, dead letters, last error) and MQTT")
def overview(access: Read, session: DbSession) -> IntegrationsOverview:
    state = access.context.integrations
    return IntegrationsOverview(
        destinations=service.overview_destinations(
            session, connectors=state.connectors, enabled=state.enabled, dispatcher=state.dispatcher
        ),
        mqtt=state.mqtt_status(),
        egress_denied_since_start=access.context.egress.denied,
    )


@api.get("/deliveries", summary="Work-order deliveries, newest first (dead letters with state=dead)")
def deliveries(
    access: Read,
    session: DbSession,
    state: Annotated[Literal["pending", "delivered", "dead"] | None, Query()] = None,
    destination: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryView]:
    return service.list_deliveries(session, state=state, destination=destination, limit=limit)


@api.post("/cmms/{destination}/replay", summary="Put dead-lettered work orders back in the queue (audited)")
def replay(access: Write, destination: str, body: ReplayRequest) -> ReplayResult:
    context = access.context
    _known(context, destination)
    count = service.replay_in_transaction(
        context.sessions,
        audit=context.audit,
        actor=access.principal.actor,
        destination=destination,
        delivery_ids=body.delivery_ids,
    )
    context.integrations.wake.set()
    return ReplayResult(replayed=count)


@api.post(
    "/cmms/{destination}/test", summary="Reach the destination through the egress gate (creates nothing)"
)
def test_destination(access: Write, destination: str) -> ProbeResult:
    context = access.context
    _known(context, destination)
    return probe(context.integrations.connectors[destination], context.egress)


@api.post(
    "/cmms/{destination}/status",
    dependencies=[Signed],
    summary="A CMMS reports a work order's status (signed)",
)
async def status(request: Request, destination: str) -> StatusAnswer:
    context = get_context(request)
    body = await request.body()
    if len(body) > MAX_STATUS_BYTES:
        msg = f"a status message is at most {MAX_STATUS_BYTES} bytes, got {len(body)}"
        raise PayloadTooLargeError(msg)
    state = context.integrations
    source = request.client.host if request.client else None
    outcome = receive_status(
        sessions=context.sessions,
        # Anyone can reach this route: refusals are throttled and summarised like sign-ins.
        audit=context.checkpoints.throttle.hook(context.audit, source=source),
        config=state.config.status_webhook,
        keys=state.status_keys,
        destination=destination,
        known_destinations=frozenset(state.connectors),
        headers=dict(request.headers),
        body=body,
        source_ip=source,
        on_closed=state.on_closed,
    )
    return StatusAnswer(
        work_order_id=outcome.work_order_id, result=outcome.result, alerts_closed=outcome.alerts_closed
    )


class AutoApprovalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    auto_approve: bool


@api.get("/auto-approval", summary="Per-rule auto-approval of work-order recommendations")
def get_auto_approval(access: Read, session: DbSession) -> dict[str, dict[str, object]]:
    on = policies(session)
    return {
        rule: {
            "auto_approve": rule in on,
            "changed_by": on[rule].changed_by if rule in on else None,
            "changed_at": on[rule].changed_at.isoformat() if rule in on else None,
        }
        for rule in RULES
    }


@api.put("/auto-approval/{rule}", summary="Turn a rule's auto-approval on or off (audited as config.changed)")
def put_auto_approval(access: Write, rule: str, body: AutoApprovalRequest) -> dict[str, object]:
    context = access.context
    return set_auto_approval_in_transaction(
        context.sessions,
        rule=rule,
        enabled=body.auto_approve,
        actor=access.principal.actor,
        audit=context.audit,
    )


router = APIRouter()
router.include_router(api)
router.include_router(review_router(WORK_ORDER))
