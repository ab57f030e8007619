"""The SPC routes through the real app (SQLite and PostgreSQL): the chart, line scoping, the
drift review items, and who may act on them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from lineguard.contracts.stages import StageResult
from lineguard.server.auth import Role
from lineguard.server.auth.dependencies import CSRF_HEADER
from lineguard.server.measurements import record_measurements
from tests.unit.server.auth.harness import AuthHarness, running_harness

CHART = "/api/v1/spc/chart"


def _result(h: AuthHarness, i: int, line: str, value: float) -> StageResult:
    return StageResult.model_validate(
        {
            "result_id": f"stg-{line}-{i}",
            "idempotency_key": f"n1:stg-{line}-{i}",
            "node_id": "n1",
            "site_id": h.runtime.site,
            "line_id": line,
            "station_id": "st-10",
            "camera_id": "cam-1",
            "stage": "gauge",
            "kind": "gauging",
            "frame_id": i,
            "captured_at": (h.clock.now - timedelta(hours=1) + timedelta(seconds=i)).isoformat(),
            "verdict": "pass",
            "measurements": [
                {
                    "characteristic": "hole_pitch",
                    "value": value,
                    "uncertainty": 0.003,
                    "unit": "mm",
                    "nominal": 40.0,
                    "lower_limit": 39.85,
                    "upper_limit": 40.15,
                }
            ],
            "latency_ms": 3.0,
        }
    )


@pytest.fixture
def h(db_url: str, tmp_path: Path) -> Iterator[AuthHarness]:
    rng = np.random.default_rng(11)
    values = [40.0 + rng.normal(0, 0.01) for _ in range(100)]
    values += [40.0 + 0.03 + rng.normal(0, 0.01) for _ in range(60)]  # a shift, all in tolerance
    with running_harness(db_url, tmp_path / "server") as harness:
        with harness.context.sessions() as s:
            for line in ("line-1", "line-2"):
                results = [_result(harness, i, line, float(v)) for i, v in enumerate(values)]
                for start in range(0, len(results), 40):
                    record_measurements(
                        s,
                        node_id="n1",
                        results=results[start : start + 40],
                        audit=harness.trail,
                        now=harness.clock.now,
                    )
            s.commit()
        yield harness


def test_the_chart_shows_limits_capability_and_the_rules_that_fired(h: AuthHarness) -> None:
    h.sign_in(h.add_person("quinn", [Role.QUALITY_ENGINEER]))
    r = h.client.get(
        CHART, params={"line_id": "line-1", "station_id": "st-10", "characteristic": "hole_pitch"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["measurements"], body["subgroup_size"], body["baseline_subgroups"]) == (160, 5, 20)
    assert len(body["subgroups"]) == 32
    assert body["centre"] == pytest.approx(40.0, abs=0.005)
    assert body["lcl"] < body["centre"] < body["ucl"] and body["cpk"] <= body["cp"]
    assert body["rule_hits"] and {hit["side"] for hit in body["rule_hits"]} == {"above"}
    assert h.trail.names()[-1] == "access.inspection_read"
    listed = h.client.get("/api/v1/spc/characteristics").json()
    assert [(c["line_id"], c["characteristic"], c["measurements"]) for c in listed] == [
        ("line-1", "hole_pitch", 160),
        ("line-2", "hole_pitch", 160),
    ]
    missing = h.client.get(
        CHART, params={"line_id": "line-1", "station_id": "st-10", "characteristic": "nope"}
    )
    assert missing.status_code == 404
    bad = h.client.get(CHART, params={"line_id": "line 1!", "station_id": "st-10", "characteristic": "x"})
    assert bad.status_code == 422


def test_a_person_sees_only_the_lines_they_are_granted(h: AuthHarness) -> None:
    h.sign_in(h.add_person("lina", [Role.QUALITY_ENGINEER], lines=["line-2"]))
    listed = h.client.get("/api/v1/spc/characteristics").json()
    assert {c["line_id"] for c in listed} == {"line-2"}
    refused = h.client.get(
        CHART, params={"line_id": "line-1", "station_id": "st-10", "characteristic": "hole_pitch"}
    )
    assert refused.status_code == 403
    items = h.client.get("/api/v1/reviews/spc_drift").json()
    assert items and {i["line_id"] for i in items} == {"line-2"}


def test_drift_items_are_approved_by_quality_and_only_acknowledged_by_maintenance(h: AuthHarness) -> None:
    csrf = h.sign_in(h.add_person("toni", [Role.MAINTENANCE_TECHNICIAN], mfa=False))
    item = h.client.get("/api/v1/reviews/spc_drift", params={"line_id": "line-1"}).json()[0]
    assert item["ai_proposal"]["characteristic"] == "hole_pitch"
    url = f"/api/v1/reviews/spc_drift/{item['subject_id']}"
    ack = h.client.post(f"{url}/acknowledge", json={"version": 1}, headers={CSRF_HEADER: csrf})
    assert ack.status_code == 200, ack.text
    refused = h.client.post(
        f"{url}/decide", json={"version": 2, "decision": "approve"}, headers={CSRF_HEADER: csrf}
    )
    assert refused.status_code == 403
    csrf = h.sign_in(h.add_person("quinn", [Role.QUALITY_ENGINEER]))
    edit = {
        "version": 2,
        "decision": "edit",
        "reason": "the reamer is worn",
        "changes": {"action": "change the reamer"},
    }
    done = h.client.post(f"{url}/decide", json=edit, headers={CSRF_HEADER: csrf})
    assert done.status_code == 200, done.text
    assert done.json()["item"]["human_outcome"]["action"] == "change the reamer"


def test_the_retention_sweep_deletes_old_measurements_and_stage_results_only(h: AuthHarness) -> None:
    from sqlalchemy import func, select

    from lineguard.config.server import RetentionConfig
    from lineguard.server.measurements import MeasurementRow
    from lineguard.server.retention import run_sweep

    with h.context.sessions() as s:
        s.execute(
            MeasurementRow.__table__.update()  # type: ignore[attr-defined]
            .where(MeasurementRow.line_id == "line-2")
            .values(captured_at=h.clock.now - timedelta(days=400))
        )
        s.commit()
    result = run_sweep(h.context.sessions, RetentionConfig(inspection_events_days=365), now=h.clock.now)
    assert result.deleted["measurements"] == 160
    with h.context.sessions() as s:
        left = s.execute(select(MeasurementRow.line_id, func.count()).group_by(MeasurementRow.line_id)).all()
    assert [tuple(r) for r in left] == [("line-1", 160)]


SETTINGS = "/api/v1/spc/settings"
WHERE = {"line_id": "line-1", "station_id": "st-10", "characteristic": "hole_pitch"}


def _chart(h: AuthHarness) -> dict:  # type: ignore[type-arg]
    r = h.client.get(CHART, params=WHERE)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_a_quality_engineer_chooses_the_rules_and_the_change_is_audited(h: AuthHarness) -> None:
    csrf = h.sign_in(h.add_person("quinn", [Role.QUALITY_ENGINEER]))
    before = _chart(h)
    assert before["rules"] == [1, 2] and before["baseline_from"] is None
    r = h.client.put(
        SETTINGS,
        json=WHERE | {"rules": [4, 1], "reason": "autocorrelated: a sharper eye"},
        headers={CSRF_HEADER: csrf},
    )
    assert r.status_code == 200, r.text
    assert (r.json()["rules"], r.json()["changed_by"]) == ([1, 4], "user:quinn")
    after = _chart(h)
    assert after["rules"] == [1, 4] and {hit["rule"] for hit in after["rule_hits"]} <= {1, 4}
    assert 4 in {hit["rule"] for hit in after["rule_hits"]}  # the shift: eight means in a row above
    (changed,) = h.trail.of("config.changed")
    assert changed["setting"] == "spc.line-1.st-10.hole_pitch.rules"
    assert json.loads(changed["before"]) == [1, 2]
    assert json.loads(changed["after"])["rules"] == [1, 4]
    assert json.loads(changed["after"])["reason"] == "autocorrelated: a sharper eye"
    other = _chart_of(h, "line-2")
    assert other["rules"] == [1, 2]  # one characteristic, one line: the others keep theirs


def _chart_of(h: AuthHarness, line: str) -> dict:  # type: ignore[type-arg]
    return h.client.get(CHART, params=WHERE | {"line_id": line}).json()  # type: ignore[no-any-return]


def test_a_new_baseline_charts_only_what_comes_after_it_and_drift_opens_a_new_item(h: AuthHarness) -> None:
    csrf = h.sign_in(h.add_person("quinn", [Role.QUALITY_ENGINEER]))
    items_before = {i["subject_id"] for i in h.client.get("/api/v1/reviews/spc_drift").json()}
    r = h.client.put(
        SETTINGS,
        json=WHERE | {"reset_baseline": True, "reason": "new reamer fitted"},
        headers={CSRF_HEADER: csrf},
    )
    assert r.status_code == 200, r.text
    reset_at = datetime.fromisoformat(r.json()["baseline_from"])
    empty = _chart(h)
    assert (empty["measurements"], empty["subgroups"], empty["rule_hits"]) == (0, [], [])
    assert empty["baseline_from"] is not None
    # The re-set process runs 0.03 mm higher: that is its new centre, not a drift...
    rng = np.random.default_rng(5)
    later = [40.03 + rng.normal(0, 0.01) for _ in range(100)]
    later += [40.06 + rng.normal(0, 0.01) for _ in range(40)]  # ...and then it does drift
    results = [_result(h, 1000 + i, "line-1", float(v)) for i, v in enumerate(later)]
    results = [
        r.model_copy(update={"captured_at": reset_at + timedelta(seconds=1 + i)})
        for i, r in enumerate(results)
    ]
    with h.context.sessions() as s:
        record_measurements(s, node_id="n1", results=results, audit=h.trail, now=h.clock.now)
        s.commit()
    chart = _chart(h)
    assert (chart["measurements"], chart["baseline_subgroups"]) == (140, 20)
    assert chart["centre"] == pytest.approx(40.03, abs=0.005)
    assert chart["rule_hits"] and {hit["side"] for hit in chart["rule_hits"]} == {"above"}
    new_items = {i["subject_id"] for i in h.client.get("/api/v1/reviews/spc_drift").json()} - items_before
    assert new_items  # the new episode opens items of its own
    (changed,) = h.trail.of("config.changed")
    assert changed["setting"] == "spc.line-1.st-10.hole_pitch.baseline_from"
    assert json.loads(changed["after"])["reason"] == "new reamer fitted"


def test_settings_changes_that_are_not_allowed_or_make_no_sense_are_refused(h: AuthHarness) -> None:
    csrf = h.sign_in(h.add_person("toni", [Role.MAINTENANCE_TECHNICIAN], mfa=False))
    body = WHERE | {"rules": [1], "reason": "fewer items"}
    assert h.client.put(SETTINGS, json=body, headers={CSRF_HEADER: csrf}).status_code == 403
    csrf = h.sign_in(h.add_person("lina", [Role.QUALITY_ENGINEER], lines=["line-2"]))
    assert h.client.put(SETTINGS, json=body, headers={CSRF_HEADER: csrf}).status_code == 403
    csrf = h.sign_in(h.add_person("quinn", [Role.QUALITY_ENGINEER]))
    cases = [
        (WHERE | {"reason": "nothing"}, 400, "nothing to change"),
        (WHERE | {"rules": [], "reason": "none at all"}, 400, "non-empty subset"),
        (WHERE | {"rules": [1, 5], "reason": "a fifth"}, 400, "non-empty subset"),
        (WHERE | {"characteristic": "nope", "rules": [1], "reason": "typo"}, 404, "no measurements"),
        (WHERE | {"rules": [1]}, 422, "reason"),
        (WHERE | {"rules": [1], "reason": "x", "extra": 1}, 422, "extra"),
    ]
    for payload, status, text in cases:
        r = h.client.put(SETTINGS, json=payload, headers={CSRF_HEADER: csrf})
        assert (r.status_code, text in r.text) == (status, True), (payload, r.text)
    assert h.trail.of("config.changed") == []
    assert _chart(h)["rules"] == [1, 2]
