"""Status coming back from a CMMS: a signed POST that may close a work order.

``POST /api/v1/integrations/cmms/{destination}/status`` carries a :class:`StatusUpdate`
signed like outbound requests (:mod:`.signing`, keys in ``integrations.status_webhook``).
A forged or unsigned request, a timestamp outside the replay window, a malformed body
or an unknown work order is refused with a typed error and recorded as
``cmms.status_rejected`` (in its own transaction: the refusal is on the record even
though nothing else happens). ``closed``/``cancelled`` closes the work order once:
``on_closed`` closes its recommendation and alerts in the same transaction as the
``cmms.work_order_closed`` entry; a duplicate delivery of the same status changes
nothing and says so. Other statuses are acknowledged and not stored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.integrations import StatusWebhookConfig
from lineguard.contracts.audit import CmmsStatusRejected, CmmsWorkOrderClosed
from lineguard.contracts.errors import ContractError, NotFoundError, SignatureError
from lineguard.server.integrations.models import CmmsDeliveryRow
from lineguard.server.integrations.schemas import StatusUpdate
from lineguard.server.integrations.signing import verify

__all__ = ["STATUS_ACTOR", "OnClosed", "StatusOutcome", "receive_status"]

#: ``on_closed(session, work_order_id, status) -> alerts closed``: the recommendation side.
OnClosed = Callable[[Session, str, str], int]

STATUS_ACTOR = "system:cmms-status"


@dataclass(frozen=True, slots=True)
class StatusOutcome:
    work_order_id: str
    result: str  # "closed", "already_closed", "noted"
    alerts_closed: int = 0


def _reject(sessions: sessionmaker[Session], audit: Callable[..., Any], destination: str, reason: str,
            source_ip: str | None) -> None:  # fmt: skip
    with sessions.begin() as session:
        event = CmmsStatusRejected(destination=destination[:200], reason=reason[:500], source_ip=source_ip)
        audit(session, event, actor=STATUS_ACTOR)


def receive_status(
    *,
    sessions: sessionmaker[Session],
    audit: Callable[..., Any],
    config: StatusWebhookConfig | None,
    keys: Mapping[str, bytes],
    destination: str,
    known_destinations: frozenset[str],
    headers: Mapping[str, str],
    body: bytes,
    source_ip: str | None,
    on_closed: OnClosed,
) -> StatusOutcome:
    if config is None or destination not in known_destinations:
        msg = f"no CMMS destination named {destination[:64]!r} takes status messages"
        raise NotFoundError(msg)
    try:
        verify(headers, body, keys=keys, window_s=config.window_s)
        try:
            update = StatusUpdate.model_validate_json(body)
        except ValidationError as exc:
            details = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()][:10]
            msg = "status message does not match the documented shape"
            raise ContractError(msg, details=details) from None
        with sessions.begin() as session:
            outcome = _apply(session, audit, destination, update, on_closed)
    except (SignatureError, ContractError, NotFoundError) as exc:
        _reject(sessions, audit, destination, f"{exc.code}: {exc.message}", source_ip)
        raise
    return outcome


def _apply(
    session: Session, audit: Callable[..., Any], destination: str, update: StatusUpdate, on_closed: OnClosed
) -> StatusOutcome:
    row = session.scalars(
        select(CmmsDeliveryRow)
        .where(
            CmmsDeliveryRow.destination == destination, CmmsDeliveryRow.work_order_id == update.work_order_id
        )
        .with_for_update()
    ).one_or_none()
    if row is None or row.state != "delivered":
        msg = f"work order {update.work_order_id!r} was not delivered to {destination}"
        raise NotFoundError(msg)
    if (
        update.external_id is not None
        and row.external_id is not None
        and update.external_id != row.external_id
    ):
        msg = (
            f"work order {update.work_order_id!r} is {row.external_id!r} in {destination}, "
            f"not {update.external_id!r}"
        )
        raise NotFoundError(msg)
    if update.status not in {"closed", "cancelled"}:
        return StatusOutcome(update.work_order_id, "noted")
    if row.closed_at is not None:
        return StatusOutcome(update.work_order_id, "already_closed")
    row.closed_at = datetime.now(UTC)
    alerts = on_closed(session, update.work_order_id, update.status)
    audit(
        session,
        CmmsWorkOrderClosed(
            destination=destination,
            work_order_id=update.work_order_id,
            external_id=row.external_id,
            status=update.status,
            alerts_closed=alerts,
        ),
        actor=STATUS_ACTOR,
    )
    return StatusOutcome(update.work_order_id, "closed", alerts)
