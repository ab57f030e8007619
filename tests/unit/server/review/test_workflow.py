"""The review state machine on a real database (SQLite and PostgreSQL): proposing, every
step, its audit entries, the AI's proposal kept beside the person's outcome, and
conflicts (stale versions, resolved items, two people at once) refused, never overwritten."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lineguard.contracts.errors import ConflictError, InputError, NotFoundError
from lineguard.server.review import (
    ALERT,
    SYSTEM_ACTOR,
    Decision,
    ReviewItemRow,
    ReviewStepRow,
    acknowledge,
    assign,
    decide,
    escalate,
    escalate_overdue,
    get_item,
    list_items,
    resolve,
    steps_of,
)
from tests.unit.server.conftest import AuditTrail
from tests.unit.server.review.conftest import DRAFT, T0, defect_alert, later, propose

QE = "user:quinn"
TECH = "user:toni"


def _item(session: Session, subject_id: str = "alr_1") -> ReviewItemRow:
    return get_item(session, kind=ALERT, subject_id=subject_id)


def test_proposing_is_idempotent_and_audited_as_a_recommendation(
    sessions: sessionmaker[Session], audit_trail: AuditTrail
) -> None:
    with sessions() as s:
        first = propose(s, audit_trail, defect_alert("alr_1"), defect_alert("alr_2"))
        again = propose(s, audit_trail, defect_alert("alr_2", defect_class="dent"), defect_alert("alr_3"))
        assert len(first) == 2 and len(again) == 1
        assert s.scalar(select(func.count()).select_from(ReviewItemRow)) == 3
        # The second proposal of alr_2 changed nothing: the first one is what was proposed.
        assert _item(s, "alr_2").ai_proposal["defect_class"] == "scratch"
        item = _item(s, "alr_1")
        assert (item.state, item.version) == ("new", 1)
        assert [(st.step_no, st.action, st.to_state) for st in steps_of(s, review_id=item.review_id)] == [
            (1, "propose", "new")
        ]
    recs = [f for n, f in audit_trail.events if n == "ai.recommendation"]
    assert sorted(r["subject"] for r in recs) == ["alr_1", "alr_2", "alr_3"]
    assert {r["kind"] for r in recs} == {"alert"}
    assert set(audit_trail.actors) == {"node:n1"}


def test_a_subject_never_proposed_is_not_found(sessions: sessionmaker[Session]) -> None:
    with sessions() as s, pytest.raises(NotFoundError, match="no alert 'alr_x' under review"):
        _item(s, "alr_x")


def test_acknowledge_assign_confirm_keeps_the_ai_verdict_beside_the_human_one(
    sessions: sessionmaker[Session], audit_trail: AuditTrail
) -> None:
    with sessions() as s:
        propose(s, audit_trail, defect_alert("alr_1"))
        item = acknowledge(s, item=_item(s), version=1, actor=TECH, audit=audit_trail, now=later(1))
        assert (item.state, item.version, item.acknowledged_by) == ("acknowledged", 2, TECH)
        item = assign(s, item=item, version=2, assignee="quinn", actor=QE, audit=audit_trail, now=later(2))
        assert (item.state, item.assignee) == ("assigned", "quinn")
        item = decide(
            s,
            kind=ALERT,
            item=item,
            version=3,
            decision=Decision.CONFIRM,
            actor=QE,
            audit=audit_trail,
            now=later(3),
        )
        assert (item.state, item.decision, item.decided_by, item.version) == ("resolved", "confirm", QE, 4)
        assert item.ai_proposal["verdict"] == "fail" and item.ai_proposal["defect_class"] == "scratch"
        assert item.human_outcome == {"verdict": "fail", "defect_class": "scratch", "label": "confirmed"}
        steps = steps_of(s, review_id=item.review_id)
        assert [(st.action, st.actor, st.from_state, st.to_state) for st in steps] == [
            ("propose", "node:n1", None, "new"),
            ("acknowledge", TECH, "new", "acknowledged"),
            ("assign", QE, "acknowledged", "assigned"),
            ("decide", QE, "assigned", "resolved"),
        ]
    assert audit_trail.names()[1:] == ["review.state_changed", "review.state_changed", "ai.decision"]
    decision = audit_trail.events[-1][1]
    assert decision["decision"] == "approved" and not decision["changes"]
    assert decision["recommendation_id"] == item.review_id and decision["subject"] == "alr_1"


@pytest.mark.parametrize(
    ("label", "defect_class", "audited_as", "outcome", "changes"),
    [
        (
            "false_call",
            None,
            "rejected",
            {"verdict": "pass", "defect_class": None},
            [("defect_class", '"scratch"', "null"), ("verdict", '"fail"', '"pass"')],
        ),
        (
            "other_class",
            "dent",
            "edited",
            {"verdict": "fail", "defect_class": "dent"},
            [("defect_class", '"scratch"', '"dent"')],
        ),
    ],
)
def test_an_overrule_records_before_and_after(
    sessions: sessionmaker[Session],
    audit_trail: AuditTrail,
    label: Any,
    defect_class: str | None,
    audited_as: str,
    outcome: dict[str, Any],
    changes: list[tuple[str, str, str]],
) -> None:
    with sessions() as s:
        propose(s, audit_trail, defect_alert("alr_1"))
        item = decide(
            s,
            kind=ALERT,
            item=_item(s),
            version=1,
            decision=Decision.OVERRULE,
            label=label,
            defect_class=defect_class,
            reason="looked at the part",
            actor=QE,
            audit=audit_trail,
            now=later(5),
        )
        assert item.human_outcome == outcome | {"label": label}
        assert item.ai_proposal["verdict"] == "fail"  # never overwritten
    event = audit_trail.events[-1][1]
    assert (event["decision"], event["reason"]) == (audited_as, "looked at the part")
    assert [(c["field"], c["before"], c["after"]) for c in event["changes"]] == changes


def test_confirmed_defect_overrules_a_pass(sessions: sessionmaker[Session], audit_trail: AuditTrail) -> None:
    with sessions() as s:
        propose(s, audit_trail, defect_alert("pv_1", verdict="pass", defect_class=None))
        item = decide(
            s,
            kind=ALERT,
            item=_item(s, "pv_1"),
            version=1,
            decision=Decision.OVERRULE,
            label="confirmed_defect",
            defect_class="crack",
            reason="hairline crack",
            actor=QE,
            audit=audit_trail,
            now=later(1),
        )
        assert item.human_outcome == {"verdict": "fail", "defect_class": "crack", "label": "confirmed_defect"}
    assert audit_trail.events[-1][1]["decision"] == "edited"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"decision": Decision.OVERRULE, "label": "false_call"}, "an overrule needs a reason"),
        ({"decision": Decision.OVERRULE, "reason": "x"}, "an overrule needs a label"),
        (
            {"decision": Decision.OVERRULE, "reason": "x", "label": "other_class"},
            "other_class needs a defect_class",
        ),
        (
            {"decision": Decision.OVERRULE, "reason": "x", "label": "other_class", "defect_class": "scratch"},
            "different from the AI's",
        ),
        (
            {"decision": Decision.OVERRULE, "reason": "x", "label": "false_call", "defect_class": "dent"},
            "a false call has no defect_class",
        ),
        (
            {"decision": Decision.OVERRULE, "reason": "x", "label": "other_class", "defect_class": "rust"},
            "'rust' is not one of the model's classes: scratch, dent",
        ),
        ({"decision": Decision.CONFIRM, "label": "false_call"}, "a confirmation takes no label"),
        ({"decision": Decision.APPROVE}, "a alert decision is one of confirm, overrule, not approve"),
    ],
)
def test_a_bad_decision_is_refused_and_changes_nothing(
    sessions: sessionmaker[Session], audit_trail: AuditTrail, kwargs: dict[str, Any], message: str
) -> None:
    with sessions() as s:
        propose(s, audit_trail, defect_alert("alr_1", classes=["scratch", "dent"]))
        with pytest.raises(InputError, match=message):
            decide(
                s, kind=ALERT, item=_item(s), version=1, actor=QE, audit=audit_trail, now=later(1), **kwargs
            )
        s.rollback()
        item = _item(s)
        assert (item.state, item.version, item.human_outcome) == ("new", 1, None)
    assert audit_trail.names() == ["ai.recommendation"]


def test_an_alert_without_a_verdict_is_resolved_not_judged(
    sessions: sessionmaker[Session], audit_trail: AuditTrail
) -> None:
    with sessions() as s:
        propose(s, audit_trail, defect_alert("alr_cam", kind="camera_offline", judged=False, verdict=None))
        with pytest.raises(InputError, match="carries no verdict"):
            decide(
                s,
                kind=ALERT,
                item=_item(s, "alr_cam"),
                version=1,
                decision=Decision.CONFIRM,
                actor=QE,
                audit=audit_trail,
                now=later(1),
            )
        s.rollback()
        with pytest.raises(InputError, match="needs a reason"):
            resolve(
                s, item=_item(s, "alr_cam"), version=1, reason=" ", actor=QE, audit=audit_trail, now=later(1)
            )
        item = resolve(
            s,
            item=_item(s, "alr_cam"),
            version=1,
            reason="cable reseated",
            actor=QE,
            audit=audit_trail,
            now=later(2),
        )
        assert (item.state, item.decision, item.resolved_by) == ("resolved", None, QE)


def test_a_stale_version_is_a_conflict_naming_what_happened(
    sessions: sessionmaker[Session], audit_trail: AuditTrail
) -> None:
    with sessions() as s:
        propose(s, audit_trail, defect_alert("alr_1"))
        acknowledge(s, item=_item(s), version=1, actor=TECH, audit=audit_trail, now=later(1))
        with pytest.raises(
            ConflictError, match=r"at version 2 \(acknowledged, last by user:toni.*you sent version 1"
        ):
            decide(
                s,
                kind=ALERT,
                item=_item(s),
                version=1,
                decision=Decision.CONFIRM,
                actor=QE,
                audit=audit_trail,
                now=later(2),
            )


def test_a_resolved_item_cannot_be_decided_again(
    sessions: sessionmaker[Session], audit_trail: AuditTrail
) -> None:
    with sessions() as s:
        propose(s, audit_trail, defect_alert("alr_1"))
        decide(
            s,
            kind=ALERT,
            item=_item(s),
            version=1,
            decision=Decision.CONFIRM,
            actor=QE,
            audit=audit_trail,
            now=later(1),
        )
        for step in (
            lambda: decide(
                s,
                kind=ALERT,
                item=_item(s),
                version=2,
                decision=Decision.OVERRULE,
                label="false_call",
                reason="no",
                actor=TECH,
                audit=audit_trail,
                now=later(2),
            ),
            lambda: acknowledge(s, item=_item(s), version=2, actor=TECH, audit=audit_trail, now=later(2)),
            lambda: escalate(
                s,
                item=_item(s),
                version=2,
                role="production_supervisor",
                reason="?",
                actor=TECH,
                audit=audit_trail,
                now=later(2),
            ),
        ):
            with pytest.raises(ConflictError, match="is resolved by user:quinn: cannot"):
                step()
            s.rollback()
        item = _item(s)
        assert (item.decision, item.decided_by, item.version) == ("confirm", QE, 2)


def test_two_people_deciding_at_once_one_wins_one_gets_a_conflict(
    sessions: sessionmaker[Session], audit_trail: AuditTrail
) -> None:
    """Both load version 1; the first commits; the second's versioned UPDATE finds no row."""
    with sessions() as setup:
        propose(setup, audit_trail, defect_alert("alr_1"))
    with sessions() as alice, sessions() as bob:
        mine, theirs = _item(alice), _item(bob)
        assert mine.version == theirs.version == 1
        decide(
            alice,
            kind=ALERT,
            item=mine,
            version=1,
            decision=Decision.CONFIRM,
            actor=QE,
            audit=audit_trail,
            now=later(1),
        )
        with pytest.raises(ConflictError, match="changed by someone else while you acted"):
            decide(
                bob,
                kind=ALERT,
                item=theirs,
                version=1,
                decision=Decision.OVERRULE,
                label="false_call",
                reason="looks fine",
                actor=TECH,
                audit=audit_trail,
                now=later(1),
            )
    with sessions() as s:
        item = _item(s)
        assert (item.decision, item.decided_by, item.version) == ("confirm", QE, 2)
        assert s.scalar(select(func.count()).select_from(ReviewStepRow)) == 2
    assert [f["decision"] for n, f in audit_trail.events if n == "ai.decision"] == ["approved"]


def test_escalation_by_a_person_needs_a_known_role_and_a_reason(
    sessions: sessionmaker[Session], audit_trail: AuditTrail
) -> None:
    with sessions() as s:
        propose(s, audit_trail, defect_alert("alr_1"))
        with pytest.raises(InputError, match="unknown role 'boss'"):
            escalate(
                s,
                item=_item(s),
                version=1,
                role="boss",
                reason="x",
                actor=TECH,
                audit=audit_trail,
                now=later(1),
            )
        with pytest.raises(InputError, match="an escalation needs a reason"):
            escalate(
                s,
                item=_item(s),
                version=1,
                role="quality_engineer",
                reason="",
                actor=TECH,
                audit=audit_trail,
                now=later(1),
            )
        item = escalate(
            s,
            item=_item(s),
            version=1,
            role="quality_engineer",
            reason="recurring",
            actor=TECH,
            audit=audit_trail,
            now=later(1),
        )
        assert (item.state, item.escalated_to) == ("escalated", "quality_engineer")
        item = acknowledge(s, item=item, version=2, actor=QE, audit=audit_trail, now=later(2))
        assert item.state == "acknowledged"
    assert [f["decision"] for n, f in audit_trail.events if n == "ai.decision"] == ["escalated"]


def test_items_unacknowledged_past_the_time_are_escalated_by_the_system(
    sessions: sessionmaker[Session], audit_trail: AuditTrail
) -> None:
    with sessions() as s:
        propose(
            s,
            audit_trail,
            defect_alert("old_seen", at=T0),
            defect_alert("old_unseen", at=T0),
            defect_alert("recent", at=later(25)),
        )
        acknowledge(s, item=_item(s, "old_seen"), version=1, actor=TECH, audit=audit_trail, now=later(5))
        done = escalate_overdue(
            s, raised_before=later(10), role="production_supervisor", audit=audit_trail, now=later(40)
        )
        assert [_item(s, "old_unseen").review_id] == done
        assert _item(s, "old_unseen").escalated_to == "production_supervisor"
        assert (_item(s, "recent").state, _item(s, "old_seen").state) == ("new", "acknowledged")
        # A second pass finds nothing more: escalated items are not new.
        assert (
            escalate_overdue(
                s, raised_before=later(10), role="production_supervisor", audit=audit_trail, now=later(41)
            )
            == []
        )
        listed = list_items(s, kind=ALERT, site_id="plant-a", escalated_to="production_supervisor")
        assert [i.subject_id for i in listed] == ["old_unseen"]
    escalations = [
        (a, f)
        for a, (n, f) in zip(audit_trail.actors, audit_trail.events, strict=True)
        if n == "review.state_changed" and f["step"] == "escalated"
    ]
    assert [(a, f["subject"], f["role"]) for a, f in escalations] == [
        (SYSTEM_ACTOR, "old_unseen", "production_supervisor")
    ]


def test_listing_pages_newest_first_and_filters(
    sessions: sessionmaker[Session], audit_trail: AuditTrail
) -> None:
    with sessions() as s:
        propose(
            s, audit_trail, *[defect_alert(f"alr_{i}", at=later(i), line=f"line-{i % 2}") for i in range(5)]
        )
        page1 = list_items(s, kind=ALERT, site_id="plant-a", limit=2)
        assert [i.subject_id for i in page1] == ["alr_4", "alr_3"]
        page2 = list_items(
            s, kind=ALERT, site_id="plant-a", limit=2, before=(page1[-1].raised_at, page1[-1].review_id)
        )
        assert [i.subject_id for i in page2] == ["alr_2", "alr_1"]
        assert [i.subject_id for i in list_items(s, kind=ALERT, site_id="plant-a", line_id="line-0")] == [
            "alr_4",
            "alr_2",
            "alr_0",
        ]
        acknowledge(s, item=_item(s, "alr_0"), version=1, actor=TECH, audit=audit_trail, now=later(9))
        new = list_items(s, kind=ALERT, site_id="plant-a", states=["new"])
        assert "alr_0" not in {i.subject_id for i in new} and len(new) == 4
        assert list_items(s, kind=DRAFT, site_id="plant-a") == []


def test_a_proposal_kind_is_approved_rejected_or_edited_with_its_diff(
    sessions: sessionmaker[Session], audit_trail: AuditTrail
) -> None:
    draft = {"summary": "Replace belt", "priority": "medium", "asset": "conv-1"}
    with sessions() as s:
        from lineguard.server.review import Proposal

        proposals = [Proposal(f"wo_{i}", "plant-a", "line-1", T0, draft) for i in range(3)]
        propose(s, audit_trail, *proposals, kind=DRAFT)

        def item(n: int) -> ReviewItemRow:
            return get_item(s, kind=DRAFT, subject_id=f"wo_{n}")

        with pytest.raises(InputError, match="cannot edit asset: editable fields are priority, summary"):
            decide(
                s,
                kind=DRAFT,
                item=item(0),
                version=1,
                decision=Decision.EDIT,
                changes={"asset": "x"},
                reason="r",
                actor=QE,
                audit=audit_trail,
                now=later(1),
            )
        s.rollback()
        with pytest.raises(InputError, match="a draft decision is one of approve, edit, reject, not confirm"):
            decide(
                s,
                kind=DRAFT,
                item=item(0),
                version=1,
                decision=Decision.CONFIRM,
                actor=QE,
                audit=audit_trail,
                now=later(1),
            )
        s.rollback()
        edited = decide(
            s,
            kind=DRAFT,
            item=item(0),
            version=1,
            decision=Decision.EDIT,
            changes={"priority": "high"},
            reason="line stopped",
            actor=QE,
            audit=audit_trail,
            now=later(1),
        )
        assert edited.human_outcome == draft | {"priority": "high"} and edited.ai_proposal == draft
        decide(
            s,
            kind=DRAFT,
            item=item(1),
            version=1,
            decision=Decision.APPROVE,
            actor=QE,
            audit=audit_trail,
            now=later(1),
        )
        with pytest.raises(InputError, match="a reject needs a reason"):
            decide(
                s,
                kind=DRAFT,
                item=item(2),
                version=1,
                decision=Decision.REJECT,
                actor=QE,
                audit=audit_trail,
                now=later(1),
            )
    decisions = [f for n, f in audit_trail.events if n == "ai.decision"]
    assert [(d["decision"], d["kind"]) for d in decisions] == [("edited", "draft"), ("approved", "draft")]
    assert [(c["field"], c["before"], c["after"]) for c in decisions[0]["changes"]] == [
        ("priority", '"medium"', '"high"')
    ]
