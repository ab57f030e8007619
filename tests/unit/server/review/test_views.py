"""The review routes through the real app (SQLite and PostgreSQL): who may do what, the
409 on a stale version, line scoping, and the escalation list a supervisor sees."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from lineguard.server.auth import Role
from lineguard.server.auth.dependencies import CSRF_HEADER
from lineguard.server.review import ALERT, Proposal, propose_many, run_escalation
from tests.unit.server.auth.harness import AuthHarness, running_harness

URL = "/api/v1/reviews/alert"


@pytest.fixture
def h(db_url: str, tmp_path: Path) -> Iterator[AuthHarness]:
    with running_harness(db_url, tmp_path / "server") as harness:
        with harness.context.sessions() as s:
            proposals = [
                Proposal(
                    subject_id=f"alr_{i}",
                    site_id=harness.runtime.site,
                    line_id="line-1" if i < 3 else "line-2",
                    raised_at=harness.clock.now - timedelta(minutes=10 - i),
                    content={"kind": "defect", "judged": True, "verdict": "fail", "defect_class": "scratch"},
                )
                for i in range(4)
            ]
            propose_many(
                s,
                kind=ALERT,
                proposals=proposals,
                actor="node:n1",
                audit=harness.trail,
                now=harness.clock.now,
            )
            s.commit()
        yield harness


def _post(h: AuthHarness, csrf: str, path: str, body: dict[str, Any]) -> Any:
    return h.client.post(f"{URL}/{path}", json=body, headers={CSRF_HEADER: csrf})


def test_quality_engineer_acknowledges_overrules_and_confirms(h: AuthHarness) -> None:
    csrf = h.sign_in(h.add_person("quinn", [Role.QUALITY_ENGINEER]))
    listed = h.client.get(URL, params={"state": "new"})
    assert listed.status_code == 200
    assert [i["subject_id"] for i in listed.json()] == ["alr_3", "alr_2", "alr_1", "alr_0"]
    r = _post(h, csrf, "alr_0/acknowledge", {"version": 1})
    assert r.status_code == 200, r.text
    assert (r.json()["item"]["state"], r.json()["item"]["version"]) == ("acknowledged", 2)
    r = _post(
        h,
        csrf,
        "alr_0/decide",
        {"version": 2, "decision": "overrule", "label": "false_call", "reason": "dust"},
    )
    assert r.status_code == 200, r.text
    item = r.json()["item"]
    assert item["ai_proposal"]["verdict"] == "fail" and item["human_outcome"]["verdict"] == "pass"
    assert [s["action"] for s in r.json()["steps"]] == ["propose", "acknowledge", "decide"]
    r = _post(h, csrf, "alr_1/decide", {"version": 1, "decision": "confirm"})
    assert r.status_code == 200 and r.json()["item"]["decision"] == "confirm"
    decisions = h.trail.of("ai.decision")
    assert [d["decision"] for d in decisions] == ["rejected", "approved"]
    assert [a for n, a, _ in h.trail.events if n == "ai.decision"] == ["user:quinn", "user:quinn"]
    detail = h.client.get(f"{URL}/alr_0")
    assert detail.status_code == 200 and detail.json()["item"]["decided_by"] == "user:quinn"
    assert h.trail.names()[-1] == "access.inspection_read"


def test_maintenance_technician_acknowledges_but_never_overrules(h: AuthHarness) -> None:
    csrf = h.sign_in(h.add_person("toni", [Role.MAINTENANCE_TECHNICIAN], mfa=False))
    assert _post(h, csrf, "alr_0/acknowledge", {"version": 1}).status_code == 200
    r = _post(
        h, csrf, "alr_0/decide", {"version": 2, "decision": "overrule", "label": "false_call", "reason": "x"}
    )
    assert r.status_code == 403
    assert "inspection_results.write" in r.json()["message"]
    assert _post(h, csrf, "alr_0/resolve", {"version": 2, "reason": "done"}).status_code == 403
    r = _post(
        h, csrf, "alr_1/escalate", {"version": 1, "role": "quality_engineer", "reason": "again on line 1"}
    )
    assert r.status_code == 200 and r.json()["item"]["escalated_to"] == "quality_engineer"
    assert h.trail.names().count("access.denied") == 2


def test_a_stale_or_finished_review_is_a_409_never_an_overwrite(h: AuthHarness) -> None:
    quinn = h.sign_in(h.add_person("quinn", [Role.QUALITY_ENGINEER]))
    assert _post(h, quinn, "alr_0/decide", {"version": 1, "decision": "confirm"}).status_code == 200
    sam = h.sign_in(h.add_person("sam", [Role.PRODUCTION_SUPERVISOR]))
    r = _post(
        h, sam, "alr_0/decide", {"version": 1, "decision": "overrule", "label": "false_call", "reason": "x"}
    )
    assert r.status_code == 409 and r.json()["code"] == "conflict"
    assert "you sent version 1" in r.json()["message"]
    r = _post(
        h, sam, "alr_0/decide", {"version": 2, "decision": "overrule", "label": "false_call", "reason": "x"}
    )
    assert r.status_code == 409 and "is resolved by user:quinn" in r.json()["message"]
    assert h.client.get(f"{URL}/alr_0").json()["item"]["decision"] == "confirm"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"version": 1, "decision": "overrule", "label": "false_call"}, 400),  # no reason
        (
            {
                "version": 1,
                "decision": "overrule",
                "label": "other_class",
                "defect_class": "Not A Class",
                "reason": "x",
            },
            422,
        ),
        ({"version": 1, "decision": "maybe"}, 422),
        ({"version": 0, "decision": "confirm"}, 422),
    ],
)
def test_bad_decisions_get_clear_errors(h: AuthHarness, body: dict[str, Any], status: int) -> None:
    csrf = h.sign_in(h.add_person("quinn", [Role.QUALITY_ENGINEER]))
    r = _post(h, csrf, "alr_0/decide", body)
    assert r.status_code == status, r.text
    assert r.json()["message"]
    assert h.client.get(f"{URL}/alr_0").json()["item"]["version"] == 1


def test_unknown_subject_is_404(h: AuthHarness) -> None:
    csrf = h.sign_in(h.add_person("quinn", [Role.QUALITY_ENGINEER]))
    assert h.client.get(f"{URL}/alr_nope").status_code == 404
    assert _post(h, csrf, "alr_nope/acknowledge", {"version": 1}).status_code == 404


def test_a_line_scoped_person_sees_and_acts_on_their_lines_only(h: AuthHarness) -> None:
    csrf = h.sign_in(h.add_person("lina", [Role.QUALITY_ENGINEER], lines=["line-2"]))
    assert [i["subject_id"] for i in h.client.get(URL).json()] == ["alr_3"]
    r = _post(h, csrf, "alr_0/acknowledge", {"version": 1})
    assert r.status_code == 403
    assert _post(h, csrf, "alr_3/acknowledge", {"version": 1}).status_code == 200


def test_supervisor_sees_what_was_escalated_to_them(h: AuthHarness) -> None:
    context = h.context
    done = run_escalation(
        context.sessions, context.settings.review, audit=h.trail, now=h.clock.now + timedelta(minutes=21.5)
    )
    assert len(done) == 2  # raised 10 and 9 minutes before the start: over 30 minutes old
    h.sign_in(h.add_person("sam", [Role.PRODUCTION_SUPERVISOR]))
    r = h.client.get(URL, params={"escalated_to": "production_supervisor", "state": "escalated"})
    assert [i["subject_id"] for i in r.json()] == ["alr_1", "alr_0"]
    r2 = h.client.get(URL, params={"before_raised_at": r.json()[0]["raised_at"]})
    assert r2.status_code == 400 and "before_id" in r2.json()["message"]


def test_reviewed_verdicts_export_as_training_labels_for_the_quality_engineer_only(h: AuthHarness) -> None:
    quinn = h.sign_in(h.add_person("quinn", [Role.QUALITY_ENGINEER]))
    body = {
        "version": 1,
        "decision": "overrule",
        "label": "other_class",
        "defect_class": "dent",
        "reason": "r",
    }
    assert _post(h, quinn, "alr_0/decide", body).status_code == 200
    assert _post(h, quinn, "alr_1/decide", {"version": 1, "decision": "confirm"}).status_code == 200
    assert _post(h, quinn, "alr_2/acknowledge", {"version": 1}).status_code == 200  # no decision: no label
    r = h.client.get(f"{URL}/labels")
    assert r.status_code == 200, r.text
    labels = {row["subject_id"]: row for row in r.json()}
    assert set(labels) == {"alr_0", "alr_1"}
    assert (labels["alr_0"]["ai_defect_class"], labels["alr_0"]["human_defect_class"]) == ("scratch", "dent")
    assert (labels["alr_0"]["label"], labels["alr_1"]["label"]) == ("other_class", "confirmed")
    exported = h.trail.of("review.labels_exported")
    assert [(e["kind"], e["records"]) for e in exported] == [("alert", 2)]
    later = h.client.get(f"{URL}/labels", params={"since": (h.clock.now + timedelta(hours=1)).isoformat()})
    assert later.json() == []
    h.sign_in(h.add_person("sam", [Role.PRODUCTION_SUPERVISOR]))
    assert h.client.get(f"{URL}/labels").status_code == 403  # reads verdicts, does not train models
    h.sign_in(h.add_person("toni", [Role.MAINTENANCE_TECHNICIAN], mfa=False))
    assert h.client.get(f"{URL}/labels").status_code == 403
