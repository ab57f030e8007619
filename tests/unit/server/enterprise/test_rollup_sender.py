"""The plant's side of the roll-up against a real roll-up over real mutual TLS.

Two plants (one on ``db_url``, one on its own SQLite file) report to one roll-up that is
down first and up later: nothing is lost, nothing is counted twice, every send and every
refusal is audited. The egress gate refuses a destination its rule does not allow, and a
plant keeps ingesting while its roll-up is down.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, select

from lineguard.config.enterprise import EnterpriseRollupConfig
from lineguard.contracts.enterprise import PlantAggregates
from lineguard.contracts.errors import ConfigError
from lineguard.edge.identity import enroll, https_client
from lineguard.enterprise.models import LineDayRow
from lineguard.server.enterprise import EnterpriseOutboxRow, count_line_days
from lineguard.server.enterprise.queue import due, refresh
from lineguard.server.enterprise.service import rollup_status
from lineguard.server.storage import create_engine_for
from tests.support.enterprise import PlantCredentials, Rollup, make_plant, make_rollup, plant_settings
from tests.support.waiting import until
from tests.unit.server.conftest import AuditTrail, running_plant
from tests.unit.server.ingest import factory


@pytest.fixture
def rollup(tmp_path: Path, db_url: str) -> Iterator[Rollup]:
    r = make_rollup(
        tmp_path / "rollup", f"sqlite:///{tmp_path / 'rollup.db'}" if "sqlite" in db_url else db_url
    )
    yield r
    r.stop()
    r.engine.dispose()


def rollup_rows(rollup: Rollup) -> dict[tuple[str, str], tuple[int, int, int, int]]:
    with rollup.sessions() as s:
        return {
            (r.plant_id, r.line_id): (r.revision, r.parts_inspected, r.parts_passed, r.parts_failed)
            for r in s.scalars(select(LineDayRow))
        }


def test_two_plants_report_after_the_rollup_comes_back_nothing_lost_nothing_doubled(
    rollup: Rollup, tmp_path: Path, engine: Engine
) -> None:
    a = make_plant(
        plant_settings(tmp_path, "plant-a", rollup.address, rollup.enrol("plant-a", tmp_path / "ca")), engine
    )
    b_engine = create_engine_for(f"sqlite:///{tmp_path / 'plant-b.db'}")
    b = make_plant(
        plant_settings(tmp_path, "plant-b", rollup.address, rollup.enrol("plant-b", tmp_path / "cb")),
        b_engine,
    )
    a.add_parts("line-1", passed=90, failed=10, scratch=6)
    a.add_alert("line-1", "k1")
    b.add_parts("line-1", passed=40, failed=5)
    b.add_parts("line-2", passed=70, failed=0)

    # The roll-up is down: the round fails, is audited, and the snapshot waits in the queue.
    report = a.sender.run_once()
    assert (report.queued, report.sent, report.failed) == (1, 0, 1)
    assert a.trail.names() == ["enterprise.rollup_failed"]
    assert a.trail.events[0][1]["outcome"] == "failure"
    assert a.trail.events[0][1]["retry_in_s"] == 20  # 2^1 × interval
    assert b.sender.run_once().failed == 2

    rollup.start()
    assert a.sender.run_once().sent == 0  # still waiting out its back-off
    a.clock.now += timedelta(seconds=21)
    b.clock.now += timedelta(seconds=21)
    assert a.sender.run_once().sent == 1
    assert b.sender.run_once().sent == 2
    assert rollup_rows(rollup) == {
        ("plant-a", "line-1"): (1, 100, 90, 10),
        ("plant-b", "line-1"): (1, 45, 40, 5),
        ("plant-b", "line-2"): (1, 70, 70, 0),
    }
    sent = [f for n, f in a.trail.events if n == "enterprise.rollup_sent"]
    assert sent == [
        {
            "outcome": "success",
            "destination": f"https://127.0.0.1:{rollup.port}",
            "line_days": 1,
            "stored": 1,
            "duplicates": 0,
            "stale": 0,
        }
    ]
    with rollup.sessions() as s:
        alerts = s.scalars(select(LineDayRow.alerts).where(LineDayRow.plant_id == "plant-a")).one()
        classes = s.scalars(select(LineDayRow.defect_classes).where(LineDayRow.plant_id == "plant-a")).one()
    assert alerts == [{"kind": "defect", "severity": "warning", "count": 1}]
    assert classes == [{"defect_class": "scratch", "parts": 6}]

    # Nothing new: a round recounts, finds the same counts and sends nothing.
    assert a.sender.run_once() == type(report)(queued=0, sent=0, failed=0)

    # More parts: revision 2 replaces revision 1 (the roll-up holds the day's total, not a sum).
    a.add_parts("line-1", passed=5, failed=1)
    assert a.sender.run_once().sent == 1
    assert rollup_rows(rollup)[("plant-a", "line-1")] == (2, 106, 95, 11)

    # A send whose answer was lost (the plant crashed before settling): the roll-up already
    # has revision 3 when the plant sends it again, and counts it once.
    a.add_parts("line-1", passed=1, failed=0)
    with a.sessions.begin() as s:
        refresh(s, site_id="plant-a", now=a.clock.now, lookback_days=7)
        pending = due(s, now=a.clock.now, limit=10)
    body = PlantAggregates(plant_id="plant-a", sent_at=a.clock.now, aggregates=[p.message for p in pending])
    creds = PlantCredentials(
        "plant-a", tmp_path / "ca" / "enterprise.crt.pem", tmp_path / "ca" / "enterprise.key.pem"
    )
    with rollup.client(creds) as client:
        assert client.post("/api/v1/plant/aggregates", content=body.model_dump_json()).json()["stored"] == 1
    assert a.sender.run_once().sent == 1
    assert [f["duplicates"] for n, f in a.trail.events if n == "enterprise.rollup_sent"][-1] == 1
    assert rollup_rows(rollup)[("plant-a", "line-1")] == (3, 107, 96, 11)
    with a.sessions() as s:
        assert due(s, now=a.clock.now + timedelta(days=1), limit=10) == []
    # A week on, the acknowledged day has left the recount window and its queue row goes.
    a.clock.now += timedelta(days=8)
    assert a.sender.run_once().queued == 0
    with a.sessions() as s:
        assert s.scalars(select(EnterpriseOutboxRow)).all() == []
    assert rollup.verify_audit() > 0
    b_engine.dispose()


def test_a_destination_the_rule_does_not_allow_is_refused_by_the_gate_and_audited(
    rollup: Rollup, tmp_path: Path, engine: Engine
) -> None:
    creds = rollup.enrol("plant-a", tmp_path / "ca")
    # The rule names the roll-up but pins it to 10.0.0.0/8; 127.0.0.1 is outside.
    a = make_plant(
        plant_settings(tmp_path, "plant-a", rollup.address, creds, addresses=["10.0.0.0/8"]), engine
    )
    a.add_parts("line-1", passed=1, failed=0)
    rollup.start()
    report = a.sender.run_once()
    assert report.failed == 1 and report.error is not None and "refused" in report.error
    assert a.trail.names() == ["egress.denied", "enterprise.rollup_failed"]
    assert a.trail.events[1][1]["outcome"] == "denied"
    assert rollup_rows(rollup) == {}


def test_a_rollup_missing_from_the_allowlist_stops_the_sender_being_built(
    rollup: Rollup, tmp_path: Path, engine: Engine
) -> None:
    settings = plant_settings(tmp_path, "plant-a", rollup.address, rollup.enrol("plant-a", tmp_path / "ca"))
    settings = settings.model_copy(update={"egress": settings.egress.model_copy(update={"allow": []})})
    with pytest.raises(ConfigError, match="egress allowlist") as raised:
        make_plant(settings, engine)
    assert raised.value.details == [f"enterprise.url: https://127.0.0.1:{rollup.port} is not in egress.allow"]


def test_the_setting_is_off_by_default_and_refuses_an_incomplete_or_plain_http_destination() -> None:
    assert EnterpriseRollupConfig().enabled is False
    with pytest.raises(
        ValidationError, match=r"enterprise\.enabled needs url, client_cert_file, client_key_file"
    ):
        EnterpriseRollupConfig(enabled=True)
    with pytest.raises(ValidationError, match="https://host"):
        EnterpriseRollupConfig(url="http://rollup.example:9443")


def test_a_plant_keeps_ingesting_while_its_rollup_is_down_and_reports_what_it_ingested(
    rollup: Rollup, tmp_path: Path, engine: Engine
) -> None:
    creds = rollup.enrol("plant-a", tmp_path / "ca")
    settings = plant_settings(tmp_path, "plant-a", rollup.address, creds)
    settings = settings.model_copy(
        update={"enterprise": settings.enterprise.model_copy(update={"interval_s": 1, "retry_max_s": 1})}
    )
    trail = AuditTrail()
    with running_plant(settings, engine, trail) as plant:
        enroll(plant.url, plant.token("node-a"), tmp_path / "node")
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        events = factory.mixed_events("node-a", 20, start=today)
        with https_client(tmp_path / "node") as node:
            r = node.post(
                "/api/v1/ingest/batch", json=factory.batch("node-a", events, [factory.alert("node-a")])
            )
            assert r.status_code == 200, r.text
            # The roll-up loop has tried and failed; the plant's own work goes on regardless.
            until(lambda: "enterprise.rollup_failed" in trail.names())
            later = [factory.event("node-a", at=today + timedelta(hours=1))]
            r = node.post("/api/v1/ingest/batch", json=factory.batch("node-a", later))
            assert r.status_code == 200, r.text
        with plant.session() as s:
            (counts,) = count_line_days(s, site_id="plant-a", first_day=today.date(), last_day=today.date())
            status = rollup_status(s, settings=settings)
        assert (counts.inspected, counts.failed, counts.uncertain) == (
            21,
            sum(e["verdict"] == "fail" for e in events),
            sum(e["verdict"] == "uncertain" for e in events),
        )
        assert counts.alerts == {("defect", "warning"): 1}
        assert status.enabled and status.last_error is not None and status.line_days_unacknowledged == 1
        assert status.unacknowledged[0].line_id == "line-1"
        rollup.start()
        until(lambda: rollup_rows(rollup).get(("plant-a", "line-1"), (0, 0))[1] == 21, timeout_s=30)

        def settled() -> bool:
            with plant.session() as s:
                return rollup_status(s, settings=settings).line_days_unacknowledged == 0

        until(settled)
    assert "enterprise.rollup_sent" in trail.names()


def test_two_replicas_of_a_plant_send_through_one_leader(tmp_path: Path, postgres_url: str) -> None:
    """Both replicas run the loop on one PostgreSQL; only the leader of enterprise-rollup sends."""
    rollup = make_rollup(tmp_path / "rollup", f"sqlite:///{tmp_path / 'rollup.db'}")
    rollup.start()
    creds = rollup.enrol("plant-a", tmp_path / "ca")
    engine = create_engine_for(postgres_url)
    trails = [AuditTrail(), AuditTrail()]
    try:
        with contextlib.ExitStack() as replicas:
            for i, trail in enumerate(trails):
                settings = plant_settings(tmp_path / f"r{i}", "plant-a", rollup.address, creds)
                fast = settings.enterprise.model_copy(update={"interval_s": 1})
                replicas.enter_context(
                    running_plant(settings.model_copy(update={"enterprise": fast}), engine, trail)
                )
            plant = make_plant(plant_settings(tmp_path / "writer", "plant-a", rollup.address, creds), engine)
            for n in range(1, 4):  # three changes of the day's counts, each reported once
                plant.add_parts("line-1", passed=1, failed=0)
                until(lambda n=n: rollup_rows(rollup).get(("plant-a", "line-1"), (0,))[0] == n, timeout_s=30)
        senders = [t for t in trails if "enterprise.rollup_sent" in t.names()]
        assert len(senders) == 1, [t.names() for t in trails]
        sent = [f for name, f in senders[0].events if name == "enterprise.rollup_sent"]
        assert sum(f["stored"] for f in sent) == 3 and sum(f["duplicates"] for f in sent) == 0
        assert rollup_rows(rollup)[("plant-a", "line-1")] == (3, 3, 3, 0)
    finally:
        rollup.stop()
        rollup.engine.dispose()
        engine.dispose()
