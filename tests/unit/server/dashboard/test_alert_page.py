"""The alerts page's list and the record page's part through the real app (SQLite and
PostgreSQL), on batches stored by the real ingest service: newest first, keyed paging that
never repeats or skips, filters (review state included), line scoping, and a record's part
with its other frames and its stage results."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lineguard.contracts.events import IngestBatch
from lineguard.server.auth import Role
from lineguard.server.auth.dependencies import CSRF_HEADER
from lineguard.server.auth.matrix import MATRIX_SITE
from lineguard.server.ingest import service as ingest_service
from lineguard.server.nodes.service import NodeIdentity
from tests.unit.server.auth.harness import AuthHarness, running_harness
from tests.unit.server.ingest import factory

URL = "/api/v1/dashboard/alerts/page"
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
NODES = {
    "line-1": NodeIdentity("n1", MATRIX_SITE, "line-1", frozenset({"cam-1"}), "s1"),
    "line-2": NodeIdentity("n2", MATRIX_SITE, "line-2", frozenset({"cam-2"}), "s2"),
}


def _event(
    line: str, at: datetime, frame: int, *, verdict: str = "fail", part: str | None = None
) -> dict[str, Any]:
    node = NODES[line]
    e = factory.event(
        node.node_id, camera_id=min(node.camera_ids), line_id=line, site_id=MATRIX_SITE, verdict=verdict,
        defects=("scratch",) if verdict == "fail" else (), at=at, part_id=part,
    )  # fmt: skip
    e["frame_id"] = frame
    return e


def _alert(
    e: dict[str, Any], at: datetime, *, severity: str = "warning", cls: str = "scratch"
) -> dict[str, Any]:
    a = factory.alert(e["node_id"], line_id=e["line_id"], camera_id=e["camera_id"], event_id=e["event_id"])
    return a | {
        "site_id": MATRIX_SITE,
        "raised_at": at.isoformat(),
        "severity": severity,
        "defect_class": cls,
    }


def ingest(
    h: AuthHarness,
    line: str,
    events: list[dict[str, Any]],
    alerts: list[dict[str, Any]],
    parts: list[dict[str, Any]] | None = None,
    stage_results: list[dict[str, Any]] | None = None,
) -> None:
    body = factory.batch(NODES[line].node_id, events, alerts, parts) | {"stage_results": stage_results or []}
    for p in body["parts"]:
        p["site_id"] = MATRIX_SITE
    with h.context.sessions() as session:
        ingest_service.ingest_batch(
            session, node=NODES[line], batch=IngestBatch.model_validate(body), sealer=h.context.sealer,
            audit=h.trail,
        )  # fmt: skip


@pytest.fixture
def h(db_url: str, tmp_path: Path) -> Iterator[AuthHarness]:
    """Seven alerts on line 1 (one a minute, one critical and one a dent), two on line 2."""
    with running_harness(db_url, tmp_path / "server") as harness:
        for line, n in (("line-1", 7), ("line-2", 2)):
            events = [_event(line, T0 + timedelta(minutes=i), i, part=f"P-{line}-{i}") for i in range(n)]
            alerts = [
                _alert(e, T0 + timedelta(minutes=i), severity="critical" if i == 3 else "warning",
                       cls="dent" if i == 5 else "scratch")
                for i, e in enumerate(events)
            ]  # fmt: skip
            ingest(harness, line, events, alerts)
        yield harness


def _ids(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(i["alert"]["line_id"], i["alert"]["raised_at"][11:16]) for i in body["items"]]


def test_newest_first_and_pages_neither_repeat_nor_skip(h: AuthHarness) -> None:
    h.sign_in(h.add_person("quinn", [Role.QUALITY_ENGINEER]))
    first = h.client.get(URL, params={"limit": 4})
    assert first.status_code == 200, first.text
    body = first.json()
    times = [i["alert"]["raised_at"] for i in body["items"]]
    assert times == sorted(times, reverse=True) and len(times) == 4
    seen = [i["alert"]["alert_id"] for i in body["items"]]
    # A new alert arriving meanwhile does not shift the next page.
    late = _event("line-1", T0 + timedelta(hours=1), 99)
    ingest(h, "line-1", [late], [_alert(late, T0 + timedelta(hours=1))])
    while body["next"] is not None:
        body = h.client.get(URL, params={"limit": 4, **body["next"]}).json()
        seen += [i["alert"]["alert_id"] for i in body["items"]]
    assert len(seen) == len(set(seen)) == 9
    # Each row carries its part (opened for the reader) and its review item to act on.
    item = first.json()["items"][0]
    assert item["part_id"].startswith("P-") and item["review"]["state"] == "new"
    assert item["review"]["version"] == 1 and item["review"]["subject_id"] == item["alert"]["alert_id"]
    assert h.trail.names()[-1] == "access.inspection_read"


def test_filters_narrow_the_list(h: AuthHarness) -> None:
    csrf = h.sign_in(h.add_person("quinn", [Role.QUALITY_ENGINEER]))
    assert _ids(h.client.get(URL, params={"severity": "critical"}).json()) == [("line-1", "08:03")]
    assert _ids(h.client.get(URL, params={"defect_class": "dent"}).json()) == [("line-1", "08:05")]
    assert _ids(h.client.get(URL, params={"line_id": "line-2"}).json()) == [
        ("line-2", "08:01"),
        ("line-2", "08:00"),
    ]
    window = {
        "since": (T0 + timedelta(minutes=5)).isoformat(),
        "until": (T0 + timedelta(minutes=6)).isoformat(),
    }
    assert _ids(h.client.get(URL, params=window).json()) == [("line-1", "08:05")]
    # Acknowledge one from the list (the review route), then filter by review state.
    top = h.client.get(URL, params={"limit": 1}).json()["items"][0]
    r = h.client.post(
        f"/api/v1/reviews/alert/{top['alert']['alert_id']}/acknowledge",
        json={"version": top["review"]["version"]},
        headers={CSRF_HEADER: csrf},
    )
    assert r.status_code == 200, r.text
    acked = h.client.get(URL, params={"state": "acknowledged"}).json()["items"]
    assert [i["alert"]["alert_id"] for i in acked] == [top["alert"]["alert_id"]]
    assert len(h.client.get(URL, params={"state": "open"}).json()["items"]) == 9
    assert len(h.client.get(URL, params={"state": "new"}).json()["items"]) == 8
    assert h.client.get(URL, params={"state": "resolved"}).json()["items"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"before_id": "alr_x"},  # a cursor needs both halves
        {"limit": 0},
        {"limit": 201},
        {"state": "closed"},
        {"severity": "fatal"},
        {"since": "2026-12-01T09:00:00Z", "until": "2026-12-01T08:00:00Z"},
        {"since": "yesterday"},
    ],
)
def test_bad_input_is_a_clear_error(h: AuthHarness, params: dict[str, Any]) -> None:
    h.sign_in(h.add_person("quinn", [Role.QUALITY_ENGINEER]))
    r = h.client.get(URL, params=params)
    assert r.status_code in {400, 422}, r.text
    assert set(r.json()) == {"code", "message", "details"}


def test_scope_and_permission(h: AuthHarness) -> None:
    h.sign_in(h.add_person("lena", [Role.QUALITY_ENGINEER], lines=["line-2"]))
    assert {line for line, _ in _ids(h.client.get(URL).json())} == {"line-2"}
    h.sign_in(h.add_person("anna", [Role.AUDITOR]))
    assert h.client.get(URL).status_code == 403


def test_a_record_lists_its_part_and_the_parts_other_frames(h: AuthHarness) -> None:
    # One part seen in three frames, the middle one decisive; a later part reuses frame ids
    # (the node restarted): it must not be mixed in.
    at = T0 + timedelta(hours=2)
    frames = [
        _event("line-1", at + timedelta(seconds=i), 10 + i, verdict="fail" if i == 1 else "pass", part="P-77")
        for i in range(3)
    ]
    restarted = [_event("line-1", at + timedelta(hours=1), 10, verdict="pass")]
    ingest(h, "line-1", frames + restarted, [], [factory.part_of(frames), factory.part_of(restarted)])
    h.sign_in(h.add_person("quinn", [Role.QUALITY_ENGINEER]))
    for e in frames:
        r = h.client.get(f"/api/v1/dashboard/records/{e['event_id']}/part")
        assert r.status_code == 200, r.text
        part = r.json()
        assert part["part_id"] == "P-77" and part["verdict"] == "fail" and part["frames_seen"] == 3
        assert [f["event_id"] for f in part["frames"]] == [f["event_id"] for f in frames]
        assert [f["decisive"] for f in part["frames"]] == [False, True, False]
        assert part["decisive_event_id"] == frames[1]["event_id"]
    other = h.client.get(f"/api/v1/dashboard/records/{restarted[0]['event_id']}/part").json()
    assert [f["event_id"] for f in other["frames"]] == [restarted[0]["event_id"]]
    assert h.client.get("/api/v1/dashboard/records/evt_nope/part").status_code == 404
    h.sign_in(h.add_person("lena", [Role.QUALITY_ENGINEER], lines=["line-2"]))
    assert h.client.get(f"/api/v1/dashboard/records/{frames[0]['event_id']}/part").status_code == 403


def test_an_uncertain_parts_record_carries_its_review_item(h: AuthHarness) -> None:
    # The node asks a person to look at uncertain parts (a part_verdict review item);
    # the record page reviews that item when opened from one of the part's frames.
    at = T0 + timedelta(hours=5)
    frames = [
        _event("line-1", at + timedelta(seconds=i), 500 + i, verdict="uncertain", part="P-U")
        for i in range(2)
    ]
    ingest(h, "line-1", frames, [], [factory.part_of(frames)])
    h.sign_in(h.add_person("quinn", [Role.QUALITY_ENGINEER]))
    part = h.client.get(f"/api/v1/dashboard/records/{frames[1]['event_id']}/part").json()
    assert part["verdict"] == "uncertain"
    assert part["review"]["subject_kind"] == "part_verdict" and part["review"]["state"] == "new"
    assert part["review"]["subject_id"] == part["part_verdict_id"]
    detail = h.client.get(f"/api/v1/reviews/part_verdict/{part['part_verdict_id']}")
    assert detail.status_code == 200 and detail.json()["item"]["ai_proposal"]["verdict"] == "uncertain"


def test_a_parts_record_lists_each_stage_with_its_measurements_and_reasons(h: AuthHarness) -> None:
    # A bracket gauged (one hole out of tolerance) and its label checked (quantity differs,
    # lot unreadable): the record page lists both stages as the node sent them.
    at = T0 + timedelta(hours=7)
    frames = [_event("line-1", at, 700, part="P-G")]
    part = factory.part_of(frames) | {"site_id": MATRIX_SITE, "verdict": "fail"}
    hole = {"characteristic": "hole_a", "value": 8.31, "uncertainty": 0.012, "unit": "mm", "nominal": 8.0,
            "lower_limit": 7.9, "upper_limit": 8.1, "in_tolerance": False}  # fmt: skip
    gauge = factory.stage_result(part, verdict="fail", measurements=[hole]) | {"site_id": MATRIX_SITE}
    label = factory.stage_result(part, verdict="fail", stage="label") | {
        "site_id": MATRIX_SITE,
        "kind": "label",
        "captured_at": (at + timedelta(milliseconds=5)).isoformat(),
        "reasons": [
            {"code": "mismatch", "subject": "quantity", "message": "quantity differs from the order"},
            {"code": "unreadable", "subject": "lot", "message": "lot not found on the label"},
        ],
    }
    part["stages"] = [
        {"stage": "gauge", "kind": "gauging", "verdict": "fail", "result_id": gauge["result_id"]},
        {"stage": "label", "kind": "label", "verdict": "fail", "result_id": label["result_id"]},
    ]
    ingest(h, "line-1", frames, [], [part], [label, gauge])
    h.sign_in(h.add_person("quinn", [Role.QUALITY_ENGINEER]))
    r = h.client.get(f"/api/v1/dashboard/records/{frames[0]['event_id']}/part")
    assert r.status_code == 200, r.text
    stages = r.json()["stages"]
    assert [(s["stage"], s["kind"], s["verdict"]) for s in stages] == [
        ("gauge", "gauging", "fail"),
        ("label", "label", "fail"),
    ]
    assert stages[0]["measurements"] == [hole]
    assert stages[0]["reasons"] == [
        {"code": "out_of_tolerance", "subject": "hole_a", "message": "8.31 mm above 8.10 mm"}
    ]
    assert [(x["code"], x["subject"]) for x in stages[1]["reasons"]] == [
        ("mismatch", "quantity"),
        ("unreadable", "lot"),
    ]
    assert stages[1]["measurements"] == [] and stages[1]["result_id"] == label["result_id"]
    # A part without stages lists none; reading a part's stages needs what reading it needs.
    bare = _event("line-1", at + timedelta(minutes=1), 701, part="P-B")
    ingest(h, "line-1", [bare], [])
    plain = h.client.get(f"/api/v1/dashboard/records/{bare['event_id']}/part").json()
    assert plain["part_id"] == "P-B" and plain["stages"] == []
    h.sign_in(h.add_person("lena", [Role.QUALITY_ENGINEER], lines=["line-2"]))
    assert h.client.get(f"/api/v1/dashboard/records/{frames[0]['event_id']}/part").status_code == 403
    h.sign_in(h.add_person("anna", [Role.AUDITOR]))
    assert h.client.get(f"/api/v1/dashboard/records/{frames[0]['event_id']}/part").status_code == 403
