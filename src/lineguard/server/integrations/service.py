"""Integrations as the rest of the server uses them: queue a work order, replay, report, close.

* :func:`queue_work_order` — seal and queue an approved work order for every enabled
  CMMS (idempotent per destination and order), in the caller's transaction.
* :func:`replay` — dead letters back into the queue, audited.
* :func:`overview` — destinations with health, queue depth, dead letters and last
  error for the dashboard and the CLI; credentials are never part of it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import desc, func, select
from sqlalchemy.orm import Session, sessionmaker

from lineguard.contracts.audit import CmmsDeliveriesReplayed
from lineguard.contracts.errors import NotFoundError
from lineguard.crypto import utc_text
from lineguard.server.context import Sealer
from lineguard.server.integrations.connectors import Connector
from lineguard.server.integrations.delivery import SEALED_CATEGORY, Dispatcher
from lineguard.server.integrations.models import CmmsDeliveryRow
from lineguard.server.integrations.queue import enqueue, queue_counts, replay_dead
from lineguard.server.integrations.schemas import DeliveryView, DestinationView, WorkOrder

__all__ = [
    "delivery_view",
    "list_deliveries",
    "overview_destinations",
    "queue_work_order",
    "replay",
    "replay_in_transaction",
]


def queue_work_order(
    session: Session,
    *,
    order: WorkOrder,
    sealer: Sealer,
    destinations: Sequence[str],
    now: datetime | None = None,
) -> list[str]:
    """Queue ``order`` for ``destinations``; the new delivery ids (none for a repeat)."""
    sealed = sealer.seal(
        order.model_dump_json().encode(), object_id=order.work_order_id, category=SEALED_CATEGORY
    )
    return enqueue(
        session,
        destinations=destinations,
        work_order_id=order.work_order_id,
        idempotency_key=order.idempotency_key,
        order_sealed=sealed,
        now=now or datetime.now(UTC),
    )


def replay(
    session: Session,
    *,
    audit: Callable[..., Any],
    actor: str,
    destination: str | None = None,
    delivery_ids: Sequence[str] = (),
    known: Sequence[str] = (),
) -> int:
    """Put dead letters back in the queue (all, one destination's, or the given ids); how many."""
    if destination is not None and known and destination not in known:
        msg = f"no CMMS destination named {destination!r}: expected one of {', '.join(known)}"
        raise NotFoundError(msg)
    replayed = replay_dead(session, now=datetime.now(UTC), destination=destination, delivery_ids=delivery_ids)
    if replayed:
        audit(
            session, CmmsDeliveriesReplayed(destination=destination, work_orders=len(replayed)), actor=actor
        )
    return len(replayed)


def delivery_view(row: CmmsDeliveryRow) -> DeliveryView:
    return DeliveryView(
        delivery_id=row.delivery_id,
        destination=row.destination,
        work_order_id=row.work_order_id,
        state=row.state,
        attempts=row.attempts,
        next_attempt_at=utc_text(row.next_attempt_at) if row.state == "pending" else None,
        last_error=row.last_error,
        external_id=row.external_id,
        created_at=utc_text(row.created_at),
        delivered_at=utc_text(row.delivered_at) if row.delivered_at else None,
    )


def list_deliveries(
    session: Session, *, state: str | None = None, destination: str | None = None, limit: int = 100
) -> list[DeliveryView]:
    query = select(CmmsDeliveryRow).order_by(desc(CmmsDeliveryRow.created_at)).limit(limit)
    if state is not None:
        query = query.where(CmmsDeliveryRow.state == state)
    if destination is not None:
        query = query.where(CmmsDeliveryRow.destination == destination)
    return [delivery_view(r) for r in session.scalars(query)]


def overview_destinations(
    session: Session,
    *,
    connectors: dict[str, Connector],
    enabled: frozenset[str],
    dispatcher: Dispatcher | None,
) -> list[DestinationView]:
    counts = queue_counts(session)
    last_ok = dict(
        session.execute(
            select(CmmsDeliveryRow.destination, func.max(CmmsDeliveryRow.delivered_at)).group_by(
                CmmsDeliveryRow.destination
            )
        ).all()
    )
    views = []
    for name, connector in sorted(connectors.items()):
        queued, dead = counts.get((name, "pending"), 0), counts.get((name, "dead"), 0)
        last_error = dispatcher.last_error.get(name) if dispatcher else None
        failed_at = dispatcher.last_failed_at.get(name) if dispatcher else None
        ok_at = dispatcher.last_delivered_at.get(name) if dispatcher else None
        delivered_at = last_ok.get(name)
        if name not in enabled:
            health = "disabled"
        elif dead or (failed_at is not None and (ok_at is None or failed_at > ok_at)):
            health = "failing"
        elif delivered_at is None and not queued:
            health = "idle"
        else:
            health = "ok"
        views.append(
            DestinationView(
                name=name,
                kind=connector.kind,
                target=connector.target,
                enabled=name in enabled,
                health=health,
                queued=queued,
                dead_letters=dead,
                delivered=counts.get((name, "delivered"), 0),
                last_error=last_error,
                last_delivered_at=utc_text(delivered_at) if delivered_at else None,
            )
        )
    return views


def replay_in_transaction(
    sessions: sessionmaker[Session],
    *,
    audit: Callable[..., Any],
    actor: str,
    destination: str | None = None,
    delivery_ids: Sequence[str] = (),
) -> int:
    """:func:`replay` in its own transaction (routes and the CLI)."""
    with sessions.begin() as session:
        return replay(session, audit=audit, actor=actor, destination=destination, delivery_ids=delivery_ids)
