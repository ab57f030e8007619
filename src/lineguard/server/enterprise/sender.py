"""One round of the enterprise roll-up: recount, send what is due, settle and audit it.

:class:`RollupSender` owns no thread; ``scheduled.lifespan`` calls :meth:`run_once` where
this process leads the ``enterprise-rollup`` duty, and tests call it directly. A round:

1. recounts the look-back window into ``enterprise_outbox`` (one transaction);
2. sends up to ``batch_line_days`` due snapshots as one :class:`PlantAggregates` through
   the egress gate, with the plant's client certificate (mutual TLS);
3. settles them with the outcome's audit entry in one transaction:
   ``enterprise.rollup_sent`` when the roll-up acknowledged them, else
   ``enterprise.rollup_failed`` and the rows wait ``2^attempts × interval`` (at most
   ``retry_max_s``). An egress refusal is also ``egress.denied`` (the gate records it).

A crash between sending and settling leaves the rows due: they are sent again with the
same revisions and the roll-up answers "duplicate", so nothing is counted twice. The
plant's own work never waits on any of this.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.enterprise import EnterpriseRollupConfig
from lineguard.contracts.audit import EnterpriseRollupFailed, EnterpriseRollupSent
from lineguard.contracts.enterprise import PlantAggregates, RollupReceipt
from lineguard.contracts.errors import ConfigError, EgressDeniedError, UpstreamError
from lineguard.server.egress import Destination, EgressGate, GatedHttp
from lineguard.server.enterprise.models import EnterpriseOutboxRow
from lineguard.server.enterprise.queue import Snapshot, due, mark_failed, mark_sent, refresh
from lineguard.server.storage import utcnow

__all__ = ["AGGREGATES_PATH", "ROLLUP_ACTOR", "ROLLUP_PURPOSE", "RollupReport", "RollupSender"]

log = logging.getLogger(__name__)

ROLLUP_ACTOR = "system:enterprise"
ROLLUP_PURPOSE = "enterprise-rollup"
#: Where the roll-up takes a plant's aggregates.
AGGREGATES_PATH = "/api/v1/plant/aggregates"


@dataclass(frozen=True, slots=True)
class RollupReport:
    queued: int
    sent: int
    failed: int
    error: str | None = None


@dataclass
class RollupSender:
    config: EnterpriseRollupConfig
    plant_id: str
    site_id: str
    sessions: sessionmaker[Session]
    audit: Callable[..., Any]
    gate: EgressGate
    clock: Callable[[], datetime] = utcnow

    def __post_init__(self) -> None:
        url, cert, key = self.config.url, self.config.client_cert_file, self.config.client_key_file
        if url is None or cert is None or key is None:
            msg = "the enterprise roll-up is enabled without url, client_cert_file and client_key_file"
            raise ConfigError(msg)
        self.url = url
        parts = urlsplit(url)
        assert parts.hostname is not None  # noqa: S101 - validated by EnterpriseRollupConfig
        self.destination = Destination(scheme="https", host=parts.hostname, port=parts.port or 443)
        if not self.gate.allows(self.destination):
            msg = "the enterprise roll-up must be allowed by the egress allowlist"
            raise ConfigError(msg, details=[f"enterprise.url: {self.destination} is not in egress.allow"])
        self._http = GatedHttp(self.gate, purpose=ROLLUP_PURPOSE, client_chain=(cert, key))

    def run_once(self) -> RollupReport:
        now = self.clock()
        with self.sessions.begin() as session:
            queued = refresh(session, site_id=self.site_id, now=now, lookback_days=self.config.lookback_days)
        with self.sessions.begin() as session:
            snapshots = due(session, now=now, limit=self.config.batch_line_days)
        if not snapshots:
            return RollupReport(queued=queued, sent=0, failed=0)
        message = PlantAggregates(
            plant_id=self.plant_id, sent_at=now, aggregates=[s.message for s in snapshots]
        )
        try:
            receipt = self._send(message)
        except (EgressDeniedError, UpstreamError) as exc:
            self._failed(snapshots, exc.message, denied=isinstance(exc, EgressDeniedError))
            return RollupReport(queued=queued, sent=0, failed=len(snapshots), error=exc.message)
        with self.sessions.begin() as session:
            mark_sent(session, snapshots, now=self.clock())
            event = EnterpriseRollupSent(
                destination=str(self.destination),
                line_days=len(snapshots),
                stored=receipt.stored,
                duplicates=receipt.duplicates,
                stale=receipt.stale,
            )
            self.audit(session, event, actor=ROLLUP_ACTOR)
        return RollupReport(queued=queued, sent=len(snapshots), failed=0)

    def _send(self, message: PlantAggregates) -> RollupReceipt:
        result = self._http.request(
            "POST",
            f"{self.url}{AGGREGATES_PATH}",
            headers={"Content-Type": "application/json"},
            content=message.model_dump_json().encode(),
        )
        if result.status != 200:
            retryable = result.status >= 500 or result.status in {408, 429}
            detail = result.body[:300].decode("utf-8", "replace")
            msg = f"{ROLLUP_PURPOSE}: {result.url} answered {result.status}: {detail}"
            raise UpstreamError(msg, retryable=retryable)
        try:
            return RollupReceipt.model_validate_json(result.body)
        except ValidationError:
            msg = f"{ROLLUP_PURPOSE}: {result.url} answered 200 without a receipt"
            raise UpstreamError(msg, retryable=True) from None

    def _failed(self, snapshots: list[Snapshot], reason: str, *, denied: bool) -> None:
        with self.sessions.begin() as session:
            attempts = 1 + max(_attempts(session, s) for s in snapshots)
            wait_s = min(self.config.retry_max_s, self.config.interval_s * 2 ** min(attempts, 30))
            mark_failed(session, snapshots, now=self.clock(), error=reason, wait_s=wait_s)
            event = EnterpriseRollupFailed(
                outcome="denied" if denied else "failure",
                destination=str(self.destination),
                line_days=len(snapshots),
                reason=reason[:500],
                retry_in_s=int(wait_s),
            )
            self.audit(session, event, actor=ROLLUP_ACTOR)
        log.warning("enterprise roll-up: %s (retry in %.0f s)", reason, wait_s)


def _attempts(session: Session, snapshot: Snapshot) -> int:
    row = session.get(EnterpriseOutboxRow, (snapshot.line_id, snapshot.day))
    return 0 if row is None else row.attempts
