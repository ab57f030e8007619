"""Ingest over real HTTPS + mTLS: idempotency, rollups, isolation between nodes, limits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select

from lineguard.config.server import ServerConfig
from lineguard.edge.identity import enroll, https_client
from lineguard.server.ingest.models import (
    ALL_PARTS,
    AlertRow,
    CameraHealthRow,
    IngestCounters,
    InspectionEventRow,
    NodeHealthRow,
    PartVerdictRow,
    RollupDaily,
    RollupHourly,
)
from lineguard.server.review import ReviewItemRow
from tests.unit.server.conftest import AuditTrail, Plant, running_plant
from tests.unit.server.ingest import factory

BATCH = "/api/v1/ingest/batch"
HEARTBEAT = "/api/v1/ingest/heartbeat"


@pytest.fixture
def node_a(plant: Plant, tmp_path: Path) -> Iterator[httpx.Client]:
    enroll(plant.url, plant.token("node-a", cameras=("cam-1", "cam-2")), tmp_path / "a")
    with https_client(tmp_path / "a") as client:
        yield client


def _count(plant: Plant, model: type) -> int:
    with plant.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_batch_is_stored_and_rolled_up_in_parts_with_frames_as_a_diagnostic(
    plant: Plant, node_a: httpx.Client
) -> None:
    start = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    events = factory.mixed_events("node-a", 100, start=start)
    # 50 parts of two frames each: a part fails when either of its frames failed (max rule).
    parts = [factory.part_of(events[i : i + 2]) for i in range(0, 100, 2)]
    r = node_a.post(BATCH, json=factory.batch("node-a", events, [factory.alert("node-a")], parts=parts))
    assert r.status_code == 200, r.text
    assert r.json() == {"node_id": "node-a", "acknowledged": 151, "stored": 151, "duplicates": 0}
    assert _count(plant, InspectionEventRow) == 100
    assert _count(plant, PartVerdictRow) == 50
    with plant.session() as s:
        rows = s.scalars(select(RollupHourly)).all()
        everything = [r for r in rows if r.defect_class == ALL_PARTS]
        assert sum(r.inspected for r in everything) == 50
        part_fails = sum(1 for p in parts if p["verdict"] == "fail")
        assert sum(r.failed for r in everything) == part_fails
        assert sum(r.passed + r.failed + r.uncertain for r in everything) == 50
        assert sum(r.frames for r in everything) == 100
        frame_fails = sum(1 for e in events if e["verdict"] == "fail")
        assert sum(r.frames_failed for r in everything) == frame_fails
        assert {r.hour for r in everything} == {start, start + timedelta(hours=1)}
        scratch = sum(r.inspected for r in rows if r.defect_class == "scratch")
        assert scratch == sum(1 for p in parts if any(g["defect_class"] == "scratch" for g in p["regions"]))
        raw_fail = s.scalar(select(func.count()).where(PartVerdictRow.verdict == "fail"))
        assert raw_fail == part_fails
        daily = s.scalars(select(RollupDaily).where(RollupDaily.defect_class == ALL_PARTS)).all()
        assert (sum(d.inspected for d in daily), sum(d.frames for d in daily)) == (50, 100)
    assert plant.audit.names().count("ingest.batch_accepted") == 1


def test_uncertain_parts_go_to_review(plant: Plant, node_a: httpx.Client) -> None:
    start = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    events = factory.mixed_events("node-a", 15, start=start)  # 0, 5, 10 fail; 7 and 14 uncertain
    parts = [factory.part_of([e]) for e in events]
    assert node_a.post(BATCH, json=factory.batch("node-a", events, parts=parts)).status_code == 200
    with plant.session() as s:
        items = s.scalars(select(ReviewItemRow)).all()
    uncertain = [p for p in parts if p["verdict"] == "uncertain"]
    assert len(uncertain) == 2
    assert sorted((i.subject_kind, i.subject_id) for i in items) == sorted(
        ("part_verdict", p["part_verdict_id"]) for p in uncertain
    )
    assert {i.ai_proposal["verdict"] for i in items} == {"uncertain"}


def test_a_retried_batch_gets_the_same_acknowledgement_and_is_stored_once(
    plant: Plant, node_a: httpx.Client
) -> None:
    body = factory.batch("node-a", factory.mixed_events("node-a", 20, start=datetime.now(UTC)))
    first = node_a.post(BATCH, json=body).json()
    again = node_a.post(BATCH, json=body).json()
    # 20 frame events and the 20 one-frame parts they make.
    assert first["acknowledged"] == again["acknowledged"] == 40
    assert (first["stored"], again["stored"], again["duplicates"]) == (40, 0, 40)
    assert _count(plant, InspectionEventRow) == 20
    with plant.session() as s:
        assert sum(r.inspected for r in s.scalars(select(RollupHourly)) if r.defect_class == ALL_PARTS) == 20
        counters = s.get(IngestCounters, "node-a")
        assert counters is not None
        assert (counters.batches_accepted, counters.items_stored, counters.items_duplicate) == (2, 40, 40)


def test_every_stored_alert_is_put_under_review_once(plant: Plant, node_a: httpx.Client) -> None:
    defect = factory.alert("node-a")
    offline = {**factory.alert("node-a"), "kind": "camera_offline", "defect_class": None}
    body = factory.batch("node-a", [], [defect, offline])
    assert node_a.post(BATCH, json=body).json()["stored"] == 2
    assert node_a.post(BATCH, json=body).json()["duplicates"] == 2  # a retry proposes nothing again
    with plant.session() as s:
        items = {i.subject_id: i for i in s.scalars(select(ReviewItemRow))}
    assert set(items) == {defect["alert_id"], offline["alert_id"]}
    assert items[defect["alert_id"]].ai_proposal["verdict"] == "fail"
    assert items[defect["alert_id"]].ai_proposal["defect_class"] == "scratch"
    assert items[offline["alert_id"]].ai_proposal["judged"] is False
    assert all(i.state == "new" and i.line_id == "line-1" for i in items.values())
    assert "P-1234" not in json.dumps([i.ai_proposal for i in items.values()])  # the message stays sealed
    assert plant.audit.names().count("ai.recommendation") == 2


def test_review_proposals_name_the_model_that_made_the_verdict(plant: Plant, node_a: httpx.Client) -> None:
    """Review checks a person's class against that model's classes (review.kinds): the
    alert's model comes from its event, in the same batch or an earlier one."""
    early = factory.event("node-a", verdict="fail", defects=("scratch",))
    assert node_a.post(BATCH, json=factory.batch("node-a", [early])).status_code == 200
    other_model = {"model_id": "mdl_other", "version": 1, "sha256": "cd" * 32}
    now_event = factory.event("node-a", verdict="uncertain", defects=("dent",), model=other_model)
    alerts = [
        factory.alert("node-a", event_id=early["event_id"]),
        factory.alert("node-a", event_id=now_event["event_id"]),
        factory.alert("node-a", event_id="evt_never_sent"),
    ]
    body = factory.batch("node-a", [now_event], alerts)
    assert node_a.post(BATCH, json=body).status_code == 200
    with plant.session() as s:
        items = {i.subject_id: i.ai_proposal for i in s.scalars(select(ReviewItemRow))}
    assert items[alerts[0]["alert_id"]]["model"] == factory.MODEL
    assert items[alerts[1]["alert_id"]]["model"] == other_model
    assert "model" not in items[alerts[2]["alert_id"]]  # unknown: the class check says so
    (part,) = body["parts"]
    assert items[part["part_verdict_id"]]["model"] == other_model


def test_duplicates_inside_one_batch_are_counted_not_stored(plant: Plant, node_a: httpx.Client) -> None:
    e = factory.event("node-a", key="idk-same")
    twin = {**factory.event("node-a"), "idempotency_key": "idk-same"}
    r = node_a.post(BATCH, json=factory.batch("node-a", [e, twin], parts=[]))
    assert r.json()["stored"] == 1
    assert r.json()["duplicates"] == 1
    assert _count(plant, InspectionEventRow) == 1


def test_a_node_cannot_write_for_a_camera_it_was_not_enrolled_with(
    plant: Plant, node_a: httpx.Client
) -> None:
    good = factory.event("node-a")
    foreign = factory.event("node-a", camera_id="cam-9")
    r = node_a.post(BATCH, json=factory.batch("node-a", [good, foreign]))
    assert r.status_code == 403
    assert r.json()["details"] == [
        "events[1].camera_id: 'cam-9' is not enrolled for node 'node-a'",
        "parts[1].camera_id: 'cam-9' is not enrolled for node 'node-a'",
    ]
    assert _count(plant, InspectionEventRow) == 0  # whole batch refused, the node keeps it
    assert "ingest.batch_rejected" in plant.audit.names()


def test_one_nodes_certificate_can_do_nothing_for_another(
    plant: Plant, node_a: httpx.Client, tmp_path: Path
) -> None:
    enroll(plant.url, plant.token("node-b", line_id="line-2", cameras=("cam-1",)), tmp_path / "b")
    with https_client(tmp_path / "b") as node_b:
        as_a = factory.batch("node-a", [factory.event("node-a")])
        r = node_b.post(BATCH, json=as_a)
        assert r.status_code == 403
        assert "the certificate is 'node-b'" in r.json()["details"][0]
        # Same camera name, but node-b's line: its own ids with node-a's line are refused too.
        r = node_b.post(BATCH, json=factory.batch("node-b", [factory.event("node-b", line_id="line-1")]))
        assert r.status_code == 403
        r = node_b.post(HEARTBEAT, json=factory.heartbeat("node-a"))
        assert r.status_code == 403
        assert node_b.post(
            BATCH, json=factory.batch("node-b", [factory.event("node-b", line_id="line-2")])
        ).is_success
    assert _count(plant, InspectionEventRow) == 1


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_oversized_body_is_413_before_parsing(plant: Plant, node_a: httpx.Client, chunked: bool) -> None:
    big = b'{"node_id": "node-a", "pad": "' + b"x" * (plant.settings.ingest.max_request_bytes + 10) + b'"}'
    content: bytes | Iterator[bytes] = (
        iter([big[i : i + 65536] for i in range(0, len(big), 65536)]) if chunked else big
    )
    r = node_a.post(BATCH, content=content, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["code"] == "payload_too_large"


def test_malformed_batches_are_422_with_every_problem(plant: Plant, node_a: httpx.Client) -> None:
    bad = factory.batch("node-a", [factory.event("node-a")])
    bad["events"][0]["verdict"] = "maybe"
    bad["events"][0]["anomaly_score"] = "high"
    r = node_a.post(BATCH, json=bad)
    assert r.status_code == 422
    assert r.json()["details"][0].startswith("events[0].verdict:")
    assert len(r.json()["details"]) == 2
    r = node_a.post(BATCH, content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert _count(plant, InspectionEventRow) == 0


def test_heartbeat_updates_node_and_camera_health(plant: Plant, node_a: httpx.Client) -> None:
    assert node_a.post(HEARTBEAT, json=factory.heartbeat("node-a", cameras=("cam-1", "cam-2"))).is_success
    assert node_a.post(HEARTBEAT, json=factory.heartbeat("node-a", backlog=9)).is_success
    with plant.session() as s:
        health = s.get(NodeHealthRow, "node-a")
        assert health is not None
        assert health.outbox_backlog == 9
        assert len(s.scalars(select(CameraHealthRow)).all()) == 2
    r = node_a.post(HEARTBEAT, json=factory.heartbeat("node-a", cameras=("cam-7",)))
    assert r.status_code == 403


def test_ingest_without_a_client_certificate_is_401(plant: Plant, tmp_path: Path) -> None:
    enroll(plant.url, plant.token("node-z"), tmp_path / "z")
    from lineguard.edge.identity import node_ssl_context

    with httpx.Client(
        base_url=plant.url, verify=node_ssl_context(tmp_path / "z", with_client_cert=False)
    ) as c:
        r = c.post(BATCH, content=json.dumps(factory.batch("node-z", [factory.event("node-z")])))
    assert r.status_code == 401
    assert _count(plant, InspectionEventRow) == 0


def test_revocation_takes_effect_on_the_next_batch_of_an_open_connection(
    plant: Plant, node_a: httpx.Client
) -> None:
    assert node_a.post(BATCH, json=factory.batch("node-a", [factory.event("node-a")])).status_code == 200
    plant.revoke("node-a")
    r = node_a.post(BATCH, json=factory.batch("node-a", [factory.event("node-a")]))
    assert r.status_code == 401
    assert r.json()["message"] == "node node-a was revoked"
    assert _count(plant, InspectionEventRow) == 1


def test_sensitive_fields_are_envelope_encrypted_at_rest(
    server_settings: ServerConfig,
    engine: Engine,
    audit_trail: AuditTrail,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lineguard.crypto.kdf import KdfParams
    from lineguard.server.keystore.envelope import open_envelope, open_keyring
    from lineguard.server.storage import session_factory

    monkeypatch.setenv("LINEGUARD_KEYRING_PASSPHRASE", "test keyring passphrase 1234")
    keys = open_keyring(server_settings, create=True, kdf=KdfParams.insecure_for_tests())
    envelope = open_envelope(server_settings, session_factory(engine), keys=keys)
    with running_plant(server_settings, engine, audit_trail, sealer=envelope) as p:
        enroll(p.url, p.token("node-s"), tmp_path / "s")
        with https_client(tmp_path / "s") as client:
            e = factory.event("node-s", part_id="P-ACME-0042")
            assert client.post(BATCH, json=factory.batch("node-s", [e], [factory.alert("node-s")])).is_success
        with p.session() as s:
            event_row = s.scalars(select(InspectionEventRow)).one()
            alert_row = s.scalars(select(AlertRow)).one()
    assert event_row.part_id_sealed is not None
    assert b"P-ACME-0042" not in event_row.part_id_sealed
    assert b"ACME" not in alert_row.message_sealed
    opened = envelope.open(
        event_row.part_id_sealed, object_id=f"node-s:{e['idempotency_key']}", category="inspection_events"
    )
    assert opened == b"P-ACME-0042"


def test_rate_limit_answers_429_with_retry_after(
    server_settings: ServerConfig, engine: Engine, audit_trail: AuditTrail, tmp_path: Path
) -> None:
    from lineguard.config.server import IngestLimits

    settings = server_settings.model_copy(update={"ingest": IngestLimits(requests_per_second=0.01, burst=2)})
    with running_plant(settings, engine, audit_trail) as p:
        enroll(p.url, p.token("node-r"), tmp_path / "r")
        with https_client(tmp_path / "r") as client:
            codes = [client.post(HEARTBEAT, json=factory.heartbeat("node-r")) for _ in range(3)]
    assert [r.status_code for r in codes] == [200, 200, 429]
    assert int(codes[2].headers["Retry-After"]) >= 60
    assert codes[2].json()["code"] == "rate_limited"
