"""The steps people (and the escalator) take on a review item, each one transaction.

Each step

1. checks the caller's ``version`` against the item's (409 when someone else acted
   since: the caller reloads and sees what they did),
2. checks the step may start from the item's state (:mod:`.machine`; 409 on a resolved item),
3. changes the item (the ORM's ``version_id_col`` makes the ``UPDATE`` itself refuse a
   row changed between read and write: of two people acting at once, one wins, one gets 409),
4. appends the step to ``review_steps`` and its audit entry (``ai.decision`` for a
   decision, ``review.state_changed`` for the lifecycle), and commits — or, with
   ``commit=False``, leaves that to the caller whose transaction it joined (a service
   acting inside its own unit of work: auto-approval, a CMMS closing alerts).

The AI's proposal is never written here; a decision goes to ``human_outcome`` beside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from lineguard.contracts.audit import AiRecommendationDecided, ReviewStateChanged
from lineguard.contracts.errors import ConflictError, InputError
from lineguard.server.auth import ROLES, Role
from lineguard.server.context import AuditHook
from lineguard.server.review.kinds import Decision, OverruleLabel, SubjectKind
from lineguard.server.review.machine import State, Step, next_state
from lineguard.server.review.models import ReviewItemRow, ReviewStepRow
from lineguard.server.review.outcomes import diff, proposal_outcome, require_reason, verdict_outcome

__all__ = ["SYSTEM_ACTOR", "acknowledge", "assign", "decide", "escalate", "escalate_overdue", "resolve"]

#: The actor of steps the system takes on its own (escalation of overdue items).
SYSTEM_ACTOR = "system:review"


# -- steps ---------------------------------------------------------------------------


def _check_version(item: ReviewItemRow, version: int) -> None:
    if item.version != version:
        last = item.resolved_by or item.decided_by or item.acknowledged_by or "someone else"
        msg = (
            f"review {item.review_id} changed since you loaded it: it is at version {item.version} "
            f"({item.state}, last by {last} at {item.updated_at.isoformat()}), you sent version {version}; "
            "reload it"
        )
        raise ConflictError(msg, details=[f"state: {item.state}", f"version: {item.version}"])


def _last_actor(item: ReviewItemRow) -> str | None:
    return item.resolved_by or item.decided_by or item.acknowledged_by


def _step(
    session: Session,
    *,
    item: ReviewItemRow,
    version: int,
    step: Step,
    actor: str,
    now: datetime,
    reason: str,
    detail: Mapping[str, Any],
    events: Sequence[Any],
    audit: AuditHook,
    commit: bool = True,
) -> ReviewItemRow:
    """Move ``item`` (already changed by the caller) to its next state, record and commit."""
    from_state = State(item.state)
    item.state = next_state(step, from_state, review_id=item.review_id, by=_last_actor(item)).value
    item.updated_at = now
    step_row = ReviewStepRow(
        review_id=item.review_id,
        step_no=version + 1,
        action=step.value,
        actor=actor,
        at=now,
        from_state=from_state.value,
        to_state=item.state,
        reason=reason,
        detail=dict(detail),
    )
    try:
        session.flush()  # the versioned UPDATE: refuses a row someone changed meanwhile
    except StaleDataError:
        if commit:  # inside the caller's transaction, the caller's context rolls back
            session.rollback()
        msg = f"review {item.review_id} was changed by someone else while you acted on it: reload it"
        raise ConflictError(msg) from None
    session.add(step_row)
    for event in events:
        audit(session, event, actor=actor)
    if commit:
        session.commit()
    else:
        session.flush()
    return item


def _begin(item: ReviewItemRow, version: int, step: Step) -> State:
    """Version first (a stale caller learns the item moved), then the state machine."""
    _check_version(item, version)
    current = State(item.state)
    next_state(step, current, review_id=item.review_id, by=_last_actor(item))
    return current


def _state_event(
    item: ReviewItemRow,
    step: Literal["acknowledged", "assigned", "resolved", "escalated"],
    from_state: State,
    to_state: State,
    **fields: Any,
) -> ReviewStateChanged:
    return ReviewStateChanged(
        recommendation_id=item.review_id,
        kind=item.subject_kind,
        subject=item.subject_id,
        step=step,
        from_state=from_state.value,
        to_state=to_state.value,
        **fields,
    )


def acknowledge(
    session: Session,
    *,
    item: ReviewItemRow,
    version: int,
    actor: str,
    audit: AuditHook,
    now: datetime,
    note: str = "",
) -> ReviewItemRow:
    """``new``/``escalated`` → ``acknowledged``: someone has seen it and is on it."""
    current = _begin(item, version, Step.ACKNOWLEDGE)
    item.acknowledged_by, item.acknowledged_at = actor, now
    event = _state_event(item, "acknowledged", current, State.ACKNOWLEDGED, reason=note)
    return _step(
        session,
        item=item,
        version=version,
        step=Step.ACKNOWLEDGE,
        actor=actor,
        now=now,
        reason=note,
        detail={},
        events=[event],
        audit=audit,
    )


def assign(
    session: Session,
    *,
    item: ReviewItemRow,
    version: int,
    assignee: str,
    actor: str,
    audit: AuditHook,
    now: datetime,
    reason: str = "",
) -> ReviewItemRow:
    """Any open state → ``assigned`` to a named person (assigning also acknowledges)."""
    current = _begin(item, version, Step.ASSIGN)
    item.assignee = assignee
    if item.acknowledged_by is None:
        item.acknowledged_by, item.acknowledged_at = actor, now
    event = _state_event(item, "assigned", current, State.ASSIGNED, assignee=assignee, reason=reason)
    return _step(
        session,
        item=item,
        version=version,
        step=Step.ASSIGN,
        actor=actor,
        now=now,
        reason=reason,
        detail={"assignee": assignee},
        events=[event],
        audit=audit,
    )


def _role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        msg = f"unknown role {role!r}: expected one of {', '.join(r.value for r in ROLES)}"
        raise InputError(msg) from None


def escalate(
    session: Session,
    *,
    item: ReviewItemRow,
    version: int,
    role: str,
    reason: str,
    actor: str,
    audit: AuditHook,
    now: datetime,
) -> ReviewItemRow:
    """A person hands an open item to a named role (``ai.decision`` escalated)."""
    named = _role(role)
    require_reason(reason, "an escalation")
    current = _begin(item, version, Step.ESCALATE)
    item.escalated_to = named.value
    events = [
        AiRecommendationDecided(
            recommendation_id=item.review_id,
            decision="escalated",
            reason=reason,
            kind=item.subject_kind,
            subject=item.subject_id,
        ),
        _state_event(item, "escalated", current, State.ESCALATED, role=named.value, reason=reason),
    ]
    return _step(
        session,
        item=item,
        version=version,
        step=Step.ESCALATE,
        actor=actor,
        now=now,
        reason=reason,
        detail={"role": named.value},
        events=events,
        audit=audit,
    )


def resolve(
    session: Session,
    *,
    item: ReviewItemRow,
    version: int,
    reason: str,
    actor: str,
    audit: AuditHook,
    now: datetime,
    commit: bool = True,
) -> ReviewItemRow:
    """Close an open item without a verdict (nothing to judge, or handled elsewhere)."""
    require_reason(reason, "resolving without a decision")
    current = _begin(item, version, Step.RESOLVE)
    item.resolved_by, item.resolved_at = actor, now
    event = _state_event(item, "resolved", current, State.RESOLVED, reason=reason)
    return _step(
        session,
        item=item,
        version=version,
        step=Step.RESOLVE,
        actor=actor,
        now=now,
        reason=reason,
        detail={},
        events=[event],
        audit=audit,
        commit=commit,
    )


def decide(
    session: Session,
    *,
    kind: SubjectKind,
    item: ReviewItemRow,
    version: int,
    decision: Decision,
    actor: str,
    audit: AuditHook,
    now: datetime,
    reason: str = "",
    label: OverruleLabel | None = None,
    defect_class: str | None = None,
    changes: Mapping[str, Any] | None = None,
    commit: bool = True,
) -> ReviewItemRow:
    """Record a person's decision beside the AI's proposal and resolve the item.

    Verdict kinds take ``confirm`` (approved) or ``overrule`` with a ``label``: a
    ``false_call`` is audited as rejected, ``confirmed_defect``/``other_class`` as edited
    with the verdict's before/after. Proposal kinds take ``approve``, ``reject`` or
    ``edit`` (the changed fields' before/after kept). Everything but confirm/approve needs
    a reason.
    """
    if decision not in kind.decisions:
        msg = f"a {kind.name} decision is one of {', '.join(sorted(kind.decisions))}, not {decision.value}"
        raise InputError(msg)
    if decision not in {Decision.CONFIRM, Decision.APPROVE}:
        require_reason(reason, f"{'an' if decision.value[0] in 'aeiou' else 'a'} {decision.value}")
    _begin(item, version, Step.DECIDE)
    proposal = item.ai_proposal
    classes = None
    if kind.judges_verdicts:
        if defect_class is not None and kind.known_classes is not None:
            classes = kind.known_classes(session, proposal)
        result = verdict_outcome(kind, proposal, decision, label, defect_class, classes)
        before = {"verdict": proposal.get("verdict"), "defect_class": proposal.get("defect_class")}
        after = {k: result.outcome.get(k) for k in before}
    else:
        result = proposal_outcome(kind, proposal, decision, changes)
        before, after = dict(proposal), result.outcome if decision is Decision.EDIT else dict(proposal)
    changed = diff(before, after) if result.audited_as == "edited" or decision is Decision.OVERRULE else []
    item.decision, item.human_outcome = decision.value, result.outcome
    item.decided_by = item.resolved_by = actor
    item.decided_at = item.resolved_at = now
    events = [
        AiRecommendationDecided(
            recommendation_id=item.review_id,
            decision=result.audited_as,
            reason=reason,
            kind=item.subject_kind,
            subject=item.subject_id,
            changes=tuple(changed),
        )
    ]
    detail: dict[str, Any] = {
        "decision": decision.value,
        "audited_as": result.audited_as,
        "outcome": result.outcome,
        "changes": [c.model_dump() for c in changed],
    }
    if classes is not None:  # a person named a class: was it checked against the model's?
        detail["class_check"] = {"result": classes.check, "source": classes.source}
    return _step(
        session,
        item=item,
        version=version,
        step=Step.DECIDE,
        actor=actor,
        now=now,
        reason=reason,
        detail=detail,
        events=events,
        audit=audit,
        commit=commit,
    )


def escalate_overdue(
    session: Session,
    *,
    raised_before: datetime,
    role: str,
    audit: AuditHook,
    now: datetime,
    limit: int = 500,
) -> list[str]:
    """Escalate items still ``new`` (nobody acknowledged them) raised before ``raised_before``.

    Each is its own versioned update, so an item a person acknowledges meanwhile is
    skipped, not overwritten. Returns the review ids escalated.
    """
    named = _role(role)
    overdue = list(
        session.scalars(
            select(ReviewItemRow)
            .where(ReviewItemRow.state == State.NEW.value, ReviewItemRow.raised_at < raised_before)
            .order_by(ReviewItemRow.raised_at)
            .limit(limit)
        )
    )
    done = []
    reason = "unacknowledged past the configured time"
    for item in overdue:
        item.escalated_to = named.value
        event = _state_event(item, "escalated", State.NEW, State.ESCALATED, role=named.value, reason=reason)
        try:
            _step(
                session,
                item=item,
                version=item.version,
                step=Step.ESCALATE,
                actor=SYSTEM_ACTOR,
                now=now,
                reason=reason,
                detail={"role": named.value},
                events=[event],
                audit=audit,
            )
        except ConflictError:
            continue  # a person acted on it between the select and the update
        done.append(item.review_id)
    return done
