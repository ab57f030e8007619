"""Work-order recommendations through the one review state machine: node triggers and server
rules proposed once, approve / edit (diff kept) / reject / escalate, auto-approval as an
audited per-rule policy, approved ones sent to a real CMMS server, and a CMMS close
resolving the alerts. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from lineguard.contracts.errors import ConflictError, InputError
from lineguard.contracts.ids import new_id
from lineguard.server.audit import AuditRecorder
from lineguard.server.ingest import AlertRow, CameraHealthRow, NodeHealthRow, WorkOrderRow
from lineguard.server.integrations.recommendations import WORK_ORDER, set_auto_approval
from lineguard.server.review import (
    ALERT,
    Decision,
    Proposal,
    decide,
    escalate,
    get_item,
    list_items,
    propose_many,
)


@pytest.fixture
def rig(rig_factory: Any) -> Any:
    rig, fake = rig_factory("webhook")
    rig.fake = fake
    rig.recommender = rig.state.recommender
    rig.recommender.clock = rig.clock
    return rig


def _trigger(rig: Any, *, events: int = 3, priority: str = "high") -> str:
    trigger_id = new_id("wot")
    with rig.sessions.begin() as session:
        session.add(
            WorkOrderRow(
                trigger_id=trigger_id, idempotency_key=trigger_id, node_id="n1", site_id="plant-a",
                line_id="line-1", station_id="st-3", created_at=rig.clock.now, received_at=rig.clock.now,
                reason_sealed=b"SEALED node free text", defect_class="scratch", priority=priority,
                event_ids=[f"ev-{i}" for i in range(events)],
            )
        )  # fmt: skip
    return trigger_id


def _defect_alerts(rig: Any, n: int, *, defect_class: str = "scratch", minutes_apart: float = 2) -> list[str]:
    ids = []
    with rig.sessions.begin() as session:
        for i in range(n):
            alert_id = new_id("al")
            at = rig.clock.now - timedelta(minutes=minutes_apart * (n - 1 - i))
            session.add(
                AlertRow(
                    alert_id=alert_id, idempotency_key=alert_id, node_id="n1", site_id="plant-a",
                    line_id="line-1",
                    camera_id="cam-1", kind="defect", severity="warning", raised_at=at, received_at=at,
                    message_sealed=b"x", event_id=None, defect_class=defect_class,
                )
            )  # fmt: skip
            ids.append(alert_id)
        proposals = [
            Proposal(
                subject_id=a, site_id="plant-a", line_id="line-1", raised_at=rig.clock.now,
                content={"kind": "defect", "judged": True, "verdict": "fail", "defect_class": defect_class},
            )
            for a in ids
        ]  # fmt: skip
        propose_many(
            session,
            kind=ALERT,
            proposals=proposals,
            actor="node:n1",
            audit=AuditRecorder(),
            now=rig.clock.now,
        )
    return ids


def _items(rig: Any) -> list[Any]:
    with rig.sessions() as session:
        return list_items(session, kind=WORK_ORDER, site_id="plant-a", limit=100)


def _decide(rig: Any, subject_id: str, decision: Decision, **kw: Any) -> None:
    with rig.sessions.begin() as session:
        item = get_item(session, kind=WORK_ORDER, subject_id=subject_id)
        decide(
            session, kind=WORK_ORDER, item=item, version=item.version, decision=decision, actor="user:tech",
            audit=AuditRecorder(), now=rig.clock.now, **kw,
        )  # fmt: skip


def test_a_node_trigger_becomes_one_recommendation_of_metadata(rig: Any) -> None:
    trigger = _trigger(rig)
    assert rig.recommender.run_once().proposed == 1
    assert rig.recommender.run_once().proposed == 0  # followed by row id: proposed once
    (item,) = _items(rig)
    assert item.subject_id == trigger and item.state == "new"
    proposal = item.ai_proposal
    assert proposal["rule"] == "node_trigger" and proposal["source"] == "node:n1"
    assert proposal["title"] == "Inspect station st-3 on line-1" and proposal["priority"] == "high"
    assert proposal["description"].startswith(
        "3 failing parts at station st-3 on line line-1, defect class scratch"
    )
    assert "SEALED" not in str(proposal)  # the node's free text stays sealed
    assert [n for n, _ in rig.audit()].count("ai.recommendation") == 1


def test_approved_recommendation_is_sent_once_as_approved(rig: Any) -> None:
    trigger = _trigger(rig)
    rig.recommender.run_once()
    assert rig.recommender.run_once().queued == 0  # nothing leaves before a person approves
    _decide(rig, trigger, Decision.APPROVE)
    assert rig.recommender.run_once().queued == 1
    assert rig.recommender.run_once().queued == 0
    rig.drain()
    (sent,) = rig.fake.created.values()
    order = sent["work_order"]
    assert order["title"] == "Inspect station st-3 on line-1" and order["source"] == "node:n1"
    assert order["work_order_id"] == _items(rig)[0].review_id
    decisions = [p for n, p in rig.audit() if n == "ai.decision"]
    assert [d["decision"] for d in decisions] == ["approved"]


def test_an_edit_keeps_the_diff_and_the_edited_version_is_sent(rig: Any) -> None:
    trigger = _trigger(rig)
    rig.recommender.run_once()
    _decide(
        rig,
        trigger,
        Decision.EDIT,
        reason="station 4, not 3",
        changes={"station_id": "st-4", "priority": "urgent"},
    )
    rig.recommender.run_once()
    rig.drain()
    (sent,) = rig.fake.created.values()
    assert sent["work_order"]["station_id"] == "st-4" and sent["work_order"]["priority"] == "urgent"
    (edit,) = [p for n, p in rig.audit() if n == "ai.decision"]
    assert edit["decision"] == "edited"
    assert {c["field"]: (c["before"], c["after"]) for c in edit["changes"]} == {
        "priority": ('"high"', '"urgent"'), "station_id": ('"st-3"', '"st-4"'),
    }  # fmt: skip
    assert _items(rig)[0].ai_proposal["station_id"] == "st-3"  # the AI's proposal is kept as made


def test_an_approved_work_order_cannot_be_edited_while_it_is_sent(rig: Any) -> None:
    trigger = _trigger(rig)
    rig.recommender.run_once()
    _decide(rig, trigger, Decision.APPROVE)
    rig.recommender.run_once()  # queued, not yet delivered
    with pytest.raises(ConflictError):
        _decide(rig, trigger, Decision.EDIT, reason="late change", changes={"priority": "low"})
    rig.drain()
    (sent,) = rig.fake.created.values()
    assert sent["work_order"]["priority"] == "high"


def test_rejected_and_escalated_recommendations_are_not_sent(rig: Any) -> None:
    rejected, escalated = _trigger(rig), _trigger(rig)
    rig.recommender.run_once()
    _decide(rig, rejected, Decision.REJECT, reason="already fixed")
    with rig.sessions.begin() as session:
        item = get_item(session, kind=WORK_ORDER, subject_id=escalated)
        escalate(
            session, item=item, version=item.version, role="production_supervisor",
            reason="needs a line stop",
            actor="user:tech", audit=AuditRecorder(), now=rig.clock.now,
        )  # fmt: skip
    assert rig.recommender.run_once().queued == 0
    rig.drain()
    assert rig.fake.created == {}
    assert sorted(p["decision"] for n, p in rig.audit() if n == "ai.decision") == ["escalated", "rejected"]


def test_defect_burst_rule_raises_one_recommendation_per_open_burst(rig: Any) -> None:
    _defect_alerts(rig, 2)
    assert rig.recommender.run_once().proposed == 0  # 2 < 3
    alerts = _defect_alerts(rig, 1)
    assert rig.recommender.run_once().proposed == 1
    _defect_alerts(rig, 2)
    assert rig.recommender.run_once().proposed == 0  # still open: no second one
    (item,) = _items(rig)
    assert item.ai_proposal["rule"] == "defect_burst" and item.ai_proposal["defect_class"] == "scratch"
    assert alerts[0] in item.ai_proposal["alert_ids"]
    assert "3 scratch defects on line line-1 within 10 minutes" in item.ai_proposal["description"]


def test_defects_spread_over_more_than_the_window_raise_nothing(rig: Any) -> None:
    _defect_alerts(rig, 3, minutes_apart=6)
    assert rig.recommender.run_once().proposed == 0


def test_a_stalled_camera_raises_one_recommendation(rig: Any) -> None:
    with rig.sessions.begin() as session:
        session.add(
            NodeHealthRow(
                node_id="n1", site_id="plant-a", line_id="line-1", last_seen_at=rig.clock.now,
                sent_at=rig.clock.now, software_version="1", uptime_s=1.0, outbox_backlog=0,
                disk_used_bytes=0,
            )
        )  # fmt: skip
        session.add(
            CameraHealthRow(
                node_id="n1", camera_id="cam-2", updated_at=rig.clock.now, state="failed", fps=0.0,
                latency_p50_ms=0.0, latency_p99_ms=0.0, frames_dropped=0, frames_corrupt=0,
            )
        )  # fmt: skip
    assert rig.recommender.run_once().proposed == 1
    assert rig.recommender.run_once().proposed == 0
    (item,) = _items(rig)
    assert item.ai_proposal["rule"] == "camera_stalled" and item.ai_proposal["camera_id"] == "cam-2"


def test_auto_approval_is_a_recorded_per_rule_policy(rig: Any) -> None:
    with rig.sessions.begin() as session:
        set_auto_approval(
            session,
            rule="defect_burst",
            enabled=True,
            actor="user:admin",
            audit=AuditRecorder(),
            now=rig.clock.now,
        )
    _defect_alerts(rig, 3)
    manual = _trigger(rig)
    report = rig.recommender.run_once()
    assert report.proposed == 2 and report.auto_approved == 1 and report.queued == 1
    states = {i.subject_id: i.state for i in _items(rig)}
    assert states[manual] == "new"
    decisions = [p for n, p in rig.audit() if n == "ai.decision"]
    assert len(decisions) == 1 and decisions[0]["decision"] == "approved"
    assert "rule defect_burst has auto-approval on (set by user:admin" in decisions[0]["reason"]
    changed = [p for n, p in rig.audit() if n == "config.changed"]
    assert changed == [
        {
            "setting": "integrations.auto_approve.defect_burst",
            "before": "false",
            "after": "true",
            "outcome": "success",
        }
    ]
    with rig.sessions.begin() as session, pytest.raises(InputError, match="unknown rule"):
        set_auto_approval(
            session,
            rule="everything",
            enabled=True,
            actor="user:admin",
            audit=AuditRecorder(),
            now=rig.clock.now,
        )


def test_a_cmms_close_resolves_the_alerts_of_the_work_order(
    rig: Any, migrated: sessionmaker[Session]
) -> None:
    alerts = _defect_alerts(rig, 3)
    rig.recommender.run_once()
    (item,) = _items(rig)
    _decide(rig, item.subject_id, Decision.APPROVE)
    rig.recommender.run_once()
    rig.drain()
    with rig.sessions.begin() as session:
        assert rig.recommender.close(session, item.review_id, "closed") == 3
    with rig.sessions() as session:
        states = {a: get_item(session, kind=ALERT, subject_id=a).state for a in alerts}
    assert set(states.values()) == {"resolved"}
    resolved = [p for n, p in rig.audit() if n == "review.state_changed" and p["step"] == "resolved"]
    assert len(resolved) == 3 and all(item.review_id in p["reason"] for p in resolved)
