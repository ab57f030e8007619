"""From facts to work orders: propose, auto-approve where the policy says so, queue what people approved.

:class:`Recommender` runs one round at a time (``scheduled.lifespan`` every
``integrations.rules.interval_s``; tests call :meth:`run_once`):

1. **propose** — new node triggers and the server's rules (:mod:`.rules`) become
   ``work_order`` review items (``ai.recommendation``), in one transaction with the
   trigger cursor, so a crash neither loses nor repeats one;
2. **auto-approve** — a new item whose rule has auto-approval on is approved by
   ``system:auto-approval`` (``ai.decision``, the reason naming the policy);
3. **queue** — every approved or edited item not yet queued becomes a :class:`WorkOrder`
   (the *person's* version: ``human_outcome``) in the delivery queue of each enabled
   CMMS. Approval ends the review (the item is ``resolved``), so a later edit is a 409
   and what is sent is exactly what was approved.

:meth:`close` is the status webhook's ``on_closed``: when the CMMS closes the work order,
the alerts it was raised from are resolved in review (``review.state_changed``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.integrations import IntegrationsConfig
from lineguard.contracts.errors import NotFoundError
from lineguard.server.context import Sealer
from lineguard.server.integrations.cursors import advance, positions
from lineguard.server.integrations.models import CmmsDeliveryRow
from lineguard.server.integrations.recommendations.kind import WORK_ORDER
from lineguard.server.integrations.recommendations.policy import AUTO_APPROVER, policies
from lineguard.server.integrations.recommendations.rules import (
    burst_proposals,
    stalled_camera_proposals,
    trigger_proposals,
)
from lineguard.server.integrations.schemas import WorkOrder
from lineguard.server.integrations.service import queue_work_order
from lineguard.server.review import (
    ALERT,
    OPEN_STATES,
    Decision,
    ReviewItemRow,
    decide,
    get_item,
    propose_many,
    resolve,
)
from lineguard.server.storage import utcnow

__all__ = ["RECOMMENDER_ACTOR", "TRIGGERS_CURSOR", "Recommender", "RecommenderReport", "work_order_from"]

RECOMMENDER_ACTOR = "system:recommender"
CLOSER_ACTOR = "system:cmms-status"
TRIGGERS_CURSOR = "recommend:work_order_triggers"


@dataclass
class RecommenderReport:
    proposed: int = 0
    auto_approved: int = 0
    queued: int = 0


def work_order_from(item: ReviewItemRow, site_id: str) -> WorkOrder:
    """The work order a person approved (their edits included), for the CMMS."""
    content: dict[str, Any] = dict(item.human_outcome or item.ai_proposal)
    return WorkOrder(
        work_order_id=item.review_id,
        idempotency_key=item.review_id,
        title=content["title"],
        description=content.get("description") or "",
        priority=content["priority"],
        site_id=site_id,
        line_id=content["line_id"],
        station_id=content.get("station_id"),
        camera_id=content.get("camera_id"),
        asset_id=content.get("asset_id"),
        location_id=content.get("location_id"),
        defect_class=content.get("defect_class"),
        evidence_ref=content.get("evidence_ref"),
        source=content.get("source") or content.get("rule") or "unknown",
        created_at=item.raised_at,
    )


@dataclass
class Recommender:
    config: IntegrationsConfig
    sessions: sessionmaker[Session]
    sealer: Sealer
    audit: Callable[..., Any]
    site_id: str
    destinations: Sequence[str]
    clock: Callable[[], datetime] = utcnow
    batch: int = 200

    def run_once(self) -> RecommenderReport:
        report = RecommenderReport()
        now = self.clock()
        with self.sessions.begin() as session:
            after = positions(session, [TRIGGERS_CURSOR])[TRIGGERS_CURSOR]
            proposals, last = trigger_proposals(
                session, after_row_id=after, limit=self.batch, assets=self.config.assets
            )
            proposals += burst_proposals(session, rules=self.config.rules, now=now, assets=self.config.assets)
            proposals += stalled_camera_proposals(
                session, rules=self.config.rules, now=now, assets=self.config.assets
            )
            new_ids = set(
                propose_many(session, kind=WORK_ORDER, proposals=proposals, actor=RECOMMENDER_ACTOR,
                             audit=self.audit, now=now)
            )  # fmt: skip
            if last != after:
                advance(session, TRIGGERS_CURSOR, last, now=now)
            report.proposed = len(new_ids)
            auto = policies(session)
            for proposal in proposals:
                policy = auto.get(str(proposal.content["rule"]))
                if policy is None:
                    continue
                item = get_item(session, kind=WORK_ORDER, subject_id=proposal.subject_id)
                if item.review_id not in new_ids:
                    continue
                reason = (
                    f"auto-approved: rule {policy.rule} has auto-approval on "
                    f"(set by {policy.changed_by} at {policy.changed_at.isoformat()})"
                )
                decide(
                    session, kind=WORK_ORDER, item=item, version=item.version, decision=Decision.APPROVE,
                    actor=AUTO_APPROVER, audit=self.audit, now=now, reason=reason, commit=False,
                )  # fmt: skip
                report.auto_approved += 1
        report.queued = self.queue_approved(now)
        return report

    def queue_approved(self, now: datetime) -> int:
        """Queue every approved (or edited) recommendation not yet queued; how many."""
        if not self.destinations:
            return 0
        queued = 0
        with self.sessions.begin() as session:
            items = session.scalars(
                select(ReviewItemRow)
                .where(
                    ReviewItemRow.subject_kind == WORK_ORDER.name,
                    ReviewItemRow.decision.in_([Decision.APPROVE.value, Decision.EDIT.value]),
                    ~exists().where(CmmsDeliveryRow.work_order_id == ReviewItemRow.review_id),
                )
                .order_by(ReviewItemRow.decided_at)
                .limit(self.batch)
            ).all()
            for item in items:
                order = work_order_from(item, self.site_id)
                queued += bool(
                    queue_work_order(
                        session, order=order, sealer=self.sealer, destinations=self.destinations, now=now
                    )
                )
        return queued

    def close(self, session: Session, work_order_id: str, status: str) -> int:
        """Resolve the open alerts the work order was raised from; how many."""
        item = session.get(ReviewItemRow, work_order_id)
        if item is None or item.subject_kind != WORK_ORDER.name:
            return 0
        closed = 0
        now = self.clock()
        for alert_id in item.ai_proposal.get("alert_ids") or []:
            try:
                alert = get_item(session, kind=ALERT, subject_id=alert_id)
            except NotFoundError:
                continue  # an alert nobody proposed for review (older than review): nothing to close
            if alert.state not in {s.value for s in OPEN_STATES}:
                continue
            resolve(session, item=alert, version=alert.version, actor=CLOSER_ACTOR, audit=self.audit, now=now,
                    reason=f"work order {work_order_id} {status} in the CMMS", commit=False)  # fmt: skip
            closed += 1
        return closed
