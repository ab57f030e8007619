"""Sending queued work orders: one round leases what is due, sends it, settles and audits it.

:class:`Dispatcher` owns no thread; ``scheduled.lifespan`` calls :meth:`run_once` in a
worker thread every ``delivery.poll_interval_s`` (sooner when something was queued),
and tests and the benchmark call it directly. Each delivery is settled in its own
transaction with its audit entry (``cmms.work_order_sent`` or, when it is given up,
``cmms.delivery_dead_lettered``): a crash between sending and settling leaves the row
leased, and it is sent again with the same idempotency key once the lease runs out —
at-least-once towards the CMMS, exactly once where the CMMS honours the key.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.integrations import DeliveryPolicy
from lineguard.contracts.audit import CmmsDeliveryDeadLettered, CmmsWorkOrderSent
from lineguard.contracts.errors import EgressDeniedError, UpstreamError
from lineguard.server.context import Sealer
from lineguard.server.egress import EgressGate, GatedHttp
from lineguard.server.integrations.connectors import Connector, Delivered
from lineguard.server.integrations.queue import Claim, claim_due, mark_delivered, mark_failed
from lineguard.server.integrations.schemas import WorkOrder
from lineguard.server.storage import utcnow

__all__ = ["DELIVERY_ACTOR", "SEALED_CATEGORY", "Dispatcher", "RoundReport"]

log = logging.getLogger(__name__)

DELIVERY_ACTOR = "system:integrations"
#: The retention/sealing category of work-order text (shared with ingest's triggers).
SEALED_CATEGORY = "work_orders"


@dataclass
class RoundReport:
    delivered: int = 0
    retrying: int = 0
    dead: int = 0
    lost_leases: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def settled(self) -> int:
        return self.delivered + self.retrying + self.dead


@dataclass
class Dispatcher:
    sessions: sessionmaker[Session]
    sealer: Sealer
    audit: Callable[..., Any]
    gate: EgressGate
    connectors: dict[str, Connector]
    policy: DeliveryPolicy
    enabled: frozenset[str]
    concurrency: int = 4
    clock: Callable[[], datetime] = utcnow
    rng: random.Random = field(default_factory=random.Random)
    #: Per destination: the last error and when the last delivery succeeded (dashboard health).
    last_error: dict[str, str] = field(default_factory=dict)
    last_delivered_at: dict[str, datetime] = field(default_factory=dict)
    last_failed_at: dict[str, datetime] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run_once(self) -> RoundReport:
        """Send everything due now (up to ``policy.batch``); what happened to it."""
        with self.sessions.begin() as session:
            claims = claim_due(
                session,
                now=self.clock(),
                limit=self.policy.batch,
                lease_s=self.policy.lease_s,
                destinations=sorted(self.enabled & self.connectors.keys()),
            )
        report = RoundReport()
        if not claims:
            return report
        workers = max(1, min(self.concurrency, len(claims)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cmms-send") as pool:
            for outcome in pool.map(self._send, claims):
                self._count(report, outcome)
        return report

    def _send(self, claim: Claim) -> tuple[str, str | None]:
        connector = self.connectors[claim.destination]
        try:
            plain = self.sealer.open(
                claim.order_sealed, object_id=claim.work_order_id, category=SEALED_CATEGORY
            )
            order = WorkOrder.model_validate_json(plain)
            delivered: Delivered | None = connector.deliver(
                order, GatedHttp(self.gate, purpose=f"cmms:{claim.destination}")
            )
            error, retryable = None, False
        except UpstreamError as exc:
            delivered, error, retryable = None, exc.message, exc.retryable
        except EgressDeniedError as exc:
            delivered, error, retryable = None, exc.message, False
        except Exception as exc:  # a bug must not wedge the queue: retry, visibly
            log.exception("delivery %s to %s failed unexpectedly", claim.delivery_id, claim.destination)
            delivered, error, retryable = None, f"internal error ({exc.__class__.__name__})", True
        return self._settle(claim, delivered, error, retryable)

    def _settle(
        self, claim: Claim, delivered: Delivered | None, error: str | None, retryable: bool
    ) -> tuple[str, str | None]:
        now = self.clock()
        with self.sessions.begin() as session:
            if delivered is not None:
                settled = mark_delivered(session, claim, external_id=delivered.external_id, now=now)
                if settled is not None:
                    event: Any = CmmsWorkOrderSent(
                        destination=claim.destination,
                        work_order_id=claim.work_order_id,
                        external_id=delivered.external_id,
                        attempts=settled.attempts,
                    )
                    self.audit(session, event, actor=DELIVERY_ACTOR)
            else:
                assert error is not None  # noqa: S101 - set with every failure above
                settled = mark_failed(
                    session,
                    claim,
                    error=error,
                    retryable=retryable,
                    policy=self.policy,
                    now=now,
                    rng=self.rng,
                )
                if settled is not None and settled.state == "dead":
                    event = CmmsDeliveryDeadLettered(
                        destination=claim.destination,
                        work_order_id=claim.work_order_id,
                        attempts=settled.attempts,
                        error=error[:500],
                    )
                    self.audit(session, event, actor=DELIVERY_ACTOR)
        with self._lock:
            if delivered is not None and settled is not None:
                self.last_delivered_at[claim.destination] = now
            elif error is not None:
                self.last_error[claim.destination] = error[:500]
                self.last_failed_at[claim.destination] = now
        return ("lost" if settled is None else settled.state), error

    @staticmethod
    def _count(report: RoundReport, outcome: tuple[str, str | None]) -> None:
        state, error = outcome
        if state == "delivered":
            report.delivered += 1
        elif state == "pending":
            report.retrying += 1
        elif state == "dead":
            report.dead += 1
        else:
            report.lost_leases += 1
        if error is not None:
            report.errors.append(error)
