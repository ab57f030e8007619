"""The CMMS delivery queue (``cmms_deliveries``): enqueue once, lease, settle, dead-letter, replay.

Functions take the caller's session and never commit: the dispatcher settles a
delivery and audits it in one transaction. :func:`claim_due` hands out due rows under
a lease (``lease_until`` plus a random ``lease_token``) so two senders — two server
processes, or a replay racing a retry — never send the same row at once; on
PostgreSQL the candidate rows are locked ``FOR UPDATE SKIP LOCKED``, on SQLite the
database's single writer does the same. A settle whose token no longer matches (the
lease ran out and someone else took over) changes nothing.

Retry delays grow exponentially with "equal jitter": half the capped delay plus a
random half, so a CMMS coming back from an outage is not hit by every retry at once.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from lineguard.config.integrations import DeliveryPolicy
from lineguard.contracts.ids import new_id
from lineguard.server.integrations.models import CmmsDeliveryRow

__all__ = [
    "Claim",
    "Settled",
    "backoff_s",
    "claim_due",
    "enqueue",
    "mark_delivered",
    "mark_failed",
    "queue_counts",
    "replay_dead",
]


@dataclass(frozen=True, slots=True)
class Claim:
    delivery_id: str
    destination: str
    work_order_id: str
    order_sealed: bytes
    attempts: int
    token: str


@dataclass(frozen=True, slots=True)
class Settled:
    state: str
    attempts: int


def backoff_s(attempt: int, policy: DeliveryPolicy, rng: random.Random) -> float:
    """Delay before retry ``attempt`` (1 = the first retry): capped exponential, equal jitter."""
    capped = min(policy.backoff_max_s, policy.backoff_base_s * 2.0 ** max(0, attempt - 1))
    return float(capped / 2 + rng.uniform(0, capped / 2))


def enqueue(
    session: Session, *, destinations: Sequence[str], work_order_id: str, idempotency_key: str,
    order_sealed: bytes, now: datetime,
) -> list[str]:  # fmt: skip
    """Queue the order for each destination; the ids of the rows that were new (none if queued before)."""
    rows = [
        {
            "delivery_id": new_id("dlv"),
            "destination": d,
            "work_order_id": work_order_id,
            "idempotency_key": idempotency_key,
            "order_sealed": order_sealed,
            "state": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for d in destinations
    ]
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(CmmsDeliveryRow)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["destination", "work_order_id"])
        .returning(CmmsDeliveryRow.delivery_id)
    )
    return list(session.scalars(statement))


def claim_due(
    session: Session, *, now: datetime, limit: int, lease_s: float, destinations: Sequence[str]
) -> list[Claim]:
    """Lease up to ``limit`` pending rows that are due, for the enabled ``destinations``."""
    if not destinations:
        return []
    candidates = (
        select(CmmsDeliveryRow.delivery_id)
        .where(
            CmmsDeliveryRow.state == "pending",
            CmmsDeliveryRow.next_attempt_at <= now,
            CmmsDeliveryRow.destination.in_(destinations),
            (CmmsDeliveryRow.lease_until.is_(None)) | (CmmsDeliveryRow.lease_until < now),
        )
        .order_by(CmmsDeliveryRow.next_attempt_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    ids = list(session.scalars(candidates))
    if not ids:
        return []
    token = secrets.token_hex(16)
    session.execute(
        update(CmmsDeliveryRow)
        .where(CmmsDeliveryRow.delivery_id.in_(ids))
        .values(lease_until=now + timedelta(seconds=lease_s), lease_token=token)
    )
    rows = session.scalars(
        select(CmmsDeliveryRow)
        .where(CmmsDeliveryRow.delivery_id.in_(ids), CmmsDeliveryRow.lease_token == token)
        .execution_options(populate_existing=True)
    ).all()
    return [
        Claim(r.delivery_id, r.destination, r.work_order_id, r.order_sealed, r.attempts, token) for r in rows
    ]


def mark_delivered(
    session: Session, claim: Claim, *, external_id: str | None, now: datetime
) -> Settled | None:
    """Record a delivery; None if the lease was lost meanwhile (nothing changed)."""
    result = session.execute(
        update(CmmsDeliveryRow)
        .where(CmmsDeliveryRow.delivery_id == claim.delivery_id, CmmsDeliveryRow.lease_token == claim.token)
        .values(
            state="delivered",
            attempts=claim.attempts + 1,
            external_id=external_id,
            delivered_at=now,
            lease_until=None,
            lease_token=None,
            last_error=None,
        )
    )
    return Settled("delivered", claim.attempts + 1) if result.rowcount else None  # type: ignore[attr-defined]


def mark_failed(
    session: Session, claim: Claim, *, error: str, retryable: bool, policy: DeliveryPolicy, now: datetime,
    rng: random.Random,
) -> Settled | None:  # fmt: skip
    """Schedule a retry, or dead-letter the row (out of attempts, or not retryable)."""
    attempts = claim.attempts + 1
    dead = not retryable or attempts >= policy.max_attempts
    values: dict[str, object] = {
        "attempts": attempts, "last_error": error[:500], "lease_until": None, "lease_token": None,
        "state": "dead" if dead else "pending",
    }  # fmt: skip
    if not dead:
        values["next_attempt_at"] = now + timedelta(seconds=backoff_s(attempts, policy, rng))
    result = session.execute(
        update(CmmsDeliveryRow)
        .where(CmmsDeliveryRow.delivery_id == claim.delivery_id, CmmsDeliveryRow.lease_token == claim.token)
        .values(**values)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return None
    return Settled("dead" if dead else "pending", attempts)


def replay_dead(
    session: Session, *, now: datetime, destination: str | None = None, delivery_ids: Sequence[str] = ()
) -> list[tuple[str, str]]:
    """Put dead rows back in the queue (attempts reset); the (destination, work order) of each."""
    query = select(CmmsDeliveryRow).where(CmmsDeliveryRow.state == "dead")
    if destination is not None:
        query = query.where(CmmsDeliveryRow.destination == destination)
    if delivery_ids:
        query = query.where(CmmsDeliveryRow.delivery_id.in_(delivery_ids))
    rows = session.scalars(query.with_for_update()).all()
    for row in rows:
        row.state, row.attempts, row.next_attempt_at = "pending", 0, now
        row.lease_until = row.lease_token = None
    session.flush()
    return [(r.destination, r.work_order_id) for r in rows]


def queue_counts(session: Session) -> dict[tuple[str, str], int]:
    """(destination, state) → rows."""
    rows = session.execute(
        select(CmmsDeliveryRow.destination, CmmsDeliveryRow.state, func.count()).group_by(
            CmmsDeliveryRow.destination, CmmsDeliveryRow.state
        )
    ).all()
    return {(d, s): int(n) for d, s, n in rows}
