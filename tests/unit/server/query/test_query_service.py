"""Dashboard query services on SQLite and PostgreSQL, against numbers computed here
from the events we ingest (the rollup must agree with the raw events)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from lineguard.contracts.errors import InputError
from lineguard.contracts.events import IngestBatch, NodeHeartbeat
from lineguard.crypto import Envelope, KdfParams, Keyring
from lineguard.server.dashboard.service import record_view
from lineguard.server.ingest import service as ingest
from lineguard.server.ingest.models import AlertRow, InspectionEventRow
from lineguard.server.keystore import BUCKETED_CATEGORIES, SqlDataKeyStore
from lineguard.server.keystore.models import DataKeyRow
from lineguard.server.nodes.models import Node
from lineguard.server.nodes.service import NodeIdentity
from lineguard.server.protection import NoEncryption
from lineguard.server.query import service as query
from lineguard.server.storage import session_factory, upgrade_to_head
from tests.support.sealed_v1 import seal_v1
from tests.unit.server.conftest import AuditTrail
from tests.unit.server.ingest import factory

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
NODES = {
    "node-1": NodeIdentity("node-1", "plant-a", "line-1", frozenset({"cam-1", "cam-2"}), "s1"),
    "node-2": NodeIdentity("node-2", "plant-a", "line-2", frozenset({"cam-9"}), "s2"),
}


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    upgrade_to_head(engine)
    with session_factory(engine)() as s:
        for n in NODES.values():
            s.add(
                Node(node_id=n.node_id, site_id=n.site_id, line_id=n.line_id, camera_ids=sorted(n.camera_ids))
            )
        s.commit()
        yield s


def _ingest(
    session: Session, node: NodeIdentity, events: list[dict[str, object]], alerts: list | None = None
) -> None:
    batch = IngestBatch.model_validate(factory.batch(node.node_id, events, alerts))
    ingest.ingest_batch(session, node=node, batch=batch, sealer=NoEncryption(), audit=AuditTrail())


@pytest.fixture
def loaded(session: Session) -> dict[str, list[dict[str, object]]]:
    line1 = factory.mixed_events("node-1", 150, start=T0, camera_id="cam-1")
    line1 += factory.mixed_events("node-1", 50, start=T0, camera_id="cam-2")
    line2 = [
        factory.event(
            "node-2", camera_id="cam-9", line_id="line-2", verdict="fail", defects=("crack",), at=T0
        )
        for _ in range(30)
    ]
    _ingest(session, NODES["node-1"], line1[:100])
    _ingest(session, NODES["node-1"], line1[100:])
    _ingest(session, NODES["node-2"], line2)
    return {"line-1": line1, "line-2": line2}


def _expected(events: list[dict[str, object]]) -> Counter[str]:
    return Counter(str(e["verdict"]) for e in events)


def test_quality_by_line_per_day_matches_the_raw_events(session: Session, loaded: dict) -> None:
    points = query.quality_over_time(
        session,
        site_id="plant-a",
        start=T0,
        end=T0 + timedelta(days=1),
        bucket="day",
        group_by="line",
        lines=None,
    )
    by_line = {p.line_id: p for p in points}
    assert set(by_line) == {"line-1", "line-2"}
    exp = _expected(loaded["line-1"])
    p = by_line["line-1"]
    assert (p.inspected, p.passed, p.failed, p.uncertain) == (200, exp["pass"], exp["fail"], exp["uncertain"])
    assert p.yield_rate == pytest.approx(exp["pass"] / 200)
    assert p.defect_rate == pytest.approx(exp["fail"] / 200)
    assert p.bucket_start == T0.replace(hour=0)


def test_hourly_series_per_camera(session: Session, loaded: dict) -> None:
    points = query.quality_over_time(
        session,
        site_id="plant-a",
        start=T0,
        end=T0 + timedelta(hours=3),
        bucket="hour",
        group_by="camera",
        lines=None,
        line_id="line-1",
    )
    cam1 = [p for p in points if p.camera_id == "cam-1"]
    assert [p.bucket_start for p in cam1] == [T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
    assert [p.inspected for p in cam1] == [60, 60, 30]
    assert {p.camera_id for p in points} == {"cam-1", "cam-2"}


def test_scope_is_applied_before_aggregation(session: Session, loaded: dict) -> None:
    site = query.quality_over_time(
        session,
        site_id="plant-a",
        start=T0,
        end=T0 + timedelta(days=1),
        bucket="day",
        group_by="site",
        lines={"line-2"},
    )
    assert len(site) == 1
    assert (site[0].inspected, site[0].failed) == (30, 30)  # line-1 is not mixed in
    pareto = query.defect_pareto(
        session, site_id="plant-a", start=T0, end=T0 + timedelta(days=1), lines={"line-2"}
    )
    assert [(e.defect_class, e.parts) for e in pareto] == [("crack", 30)]
    nothing = query.quality_over_time(
        session, site_id="plant-a", start=T0, end=T0 + timedelta(days=1), lines=frozenset()
    )
    assert nothing == []


def test_pareto_orders_classes_with_cumulative_share(session: Session, loaded: dict) -> None:
    entries = query.defect_pareto(
        session, site_id="plant-a", start=T0, end=T0 + timedelta(days=1), lines=None
    )
    counts: Counter[str] = Counter()
    for e in loaded["line-1"] + loaded["line-2"]:
        if e["verdict"] != "pass":
            counts.update({r["defect_class"] for r in e["regions"]})  # type: ignore[attr-defined]
    assert [(e.defect_class, e.parts) for e in entries] == sorted(
        counts.items(), key=lambda kv: (-kv[1], kv[0])
    )
    assert entries[-1].cumulative_share == pytest.approx(1.0)
    assert entries[0].share == pytest.approx(entries[0].parts / sum(counts.values()))


def test_defect_rate_by_class_is_a_share_of_all_inspected_parts(session: Session, loaded: dict) -> None:
    points = query.defect_rate_by_class(
        session, site_id="plant-a", start=T0, end=T0 + timedelta(days=1), lines={"line-1"}
    )
    dent = next(p for p in points if p.defect_class == "dent")
    expected = sum(1 for e in loaded["line-1"] if e["verdict"] == "uncertain")
    assert dent.parts == expected
    assert dent.rate == pytest.approx(expected / 200)


def test_recent_alerts_newest_first_and_scoped(session: Session) -> None:
    _ingest(session, NODES["node-1"], [], [factory.alert("node-1") for _ in range(3)])
    _ingest(session, NODES["node-2"], [], [factory.alert("node-2", line_id="line-2", camera_id="cam-9")])
    alerts = query.recent_alerts(
        session, site_id="plant-a", lines={"line-1"}, sealer=NoEncryption(), limit=10
    )
    assert len(alerts) == 3
    assert all(a.line_id == "line-1" for a in alerts)
    assert alerts[0].message == "scratch on part P-1234 for customer ACME"
    assert [a.raised_at for a in alerts] == sorted((a.raised_at for a in alerts), reverse=True)
    with pytest.raises(InputError, match="limit"):
        query.recent_alerts(session, site_id="plant-a", lines=None, sealer=NoEncryption(), limit=0)


def test_node_health_reports_last_seen_and_cameras(session: Session) -> None:
    hb = NodeHeartbeat.model_validate(factory.heartbeat("node-1", cameras=("cam-1", "cam-2"), backlog=42))
    ingest.record_heartbeat(session, node=NODES["node-1"], heartbeat=hb)
    views = {v.node_id: v for v in query.node_health(session, site_id="plant-a", lines=None)}
    assert views["node-1"].online and views["node-1"].outbox_backlog == 42
    assert [c.camera_id for c in views["node-1"].cameras] == ["cam-1", "cam-2"]
    assert views["node-1"].cameras[0].model_version == 3
    assert not views["node-2"].online and views["node-2"].last_seen_at is None
    later = datetime.now(UTC) + timedelta(minutes=10)
    assert not query.node_health(session, site_id="plant-a", lines={"line-1"}, now=later)[0].online


@pytest.mark.parametrize(
    ("start", "end", "bucket", "match"),
    [
        (T0, T0, "hour", "must be after"),
        (T0, T0 + timedelta(days=40), "hour", "at most 31 days"),
        (T0.replace(tzinfo=None), T0 + timedelta(hours=1), "hour", "timezone-aware"),
    ],
)
def test_bad_ranges_are_input_errors(
    session: Session, start: datetime, end: datetime, bucket: str, match: str
) -> None:
    with pytest.raises(InputError, match=match):
        query.quality_over_time(session, site_id="plant-a", start=start, end=end, bucket=bucket, lines=None)  # type: ignore[arg-type]


NEW_MODEL = {"model_id": "mdl_tile", "version": 4, "sha256": "cd" * 32}
OTHER_MODEL = {"model_id": "mdl_edge", "version": 4, "sha256": "ef" * 32}


@pytest.fixture
def two_releases(session: Session) -> dict[str, list[dict[str, object]]]:
    """Line 1, one day: v3 of mdl_tile until 08:00, then v4; line 2 runs mdl_edge v4."""
    old = factory.mixed_events("node-1", 120, start=T0)  # 06:00-07:59, factory.MODEL (v3)
    new = [
        factory.event(
            "node-1",
            verdict="fail",
            defects=("dent",),
            at=T0 + timedelta(hours=2, minutes=i),
            model=NEW_MODEL,
        )
        for i in range(40)
    ]
    other = [
        factory.event(
            "node-2",
            camera_id="cam-9",
            line_id="line-2",
            verdict="fail",
            defects=("crack",),
            at=T0,
            model=OTHER_MODEL,
        )
        for _ in range(10)
    ]
    _ingest(session, NODES["node-1"], old[:100])
    _ingest(session, NODES["node-1"], old[100:] + new)
    _ingest(session, NODES["node-2"], other)
    return {"v3": old, "v4": new, "other": other}


def test_model_filter_narrows_every_aggregate(session: Session, two_releases: dict) -> None:
    day = {"site_id": "plant-a", "start": T0, "end": T0 + timedelta(days=1), "lines": None}
    v3 = {"model_id": "mdl_tile", "model_version": 3}
    quality = query.quality_over_time(session, bucket="day", group_by="site", **day, **v3)  # type: ignore[arg-type]
    exp = _expected(two_releases["v3"])
    assert [(p.inspected, p.passed, p.failed) for p in quality] == [(120, exp["pass"], exp["fail"])]
    pareto = query.defect_pareto(session, **day, model_id="mdl_tile", model_version=4)  # type: ignore[arg-type]
    assert [(e.defect_class, e.parts) for e in pareto] == [("dent", 40)]
    # A release number alone matches that release of any model: v4 of mdl_tile and mdl_edge.
    by_class = query.defect_rate_by_class(session, **day, model_version=4)  # type: ignore[arg-type]
    assert {(p.defect_class, p.parts) for p in by_class} == {("crack", 10), ("dent", 40)}
    assert all(p.rate == pytest.approx(p.parts / 50) for p in by_class)
    unfiltered = query.quality_over_time(session, bucket="day", group_by="site", **day)  # type: ignore[arg-type]
    assert unfiltered[0].inspected == 170
    assert query.quality_over_time(session, **day, model_id="mdl_none") == []  # type: ignore[arg-type]


def test_model_versions_seen_newest_first_and_scoped(session: Session, two_releases: dict) -> None:
    seen = query.model_versions_seen(session, site_id="plant-a", lines=None)
    assert [(m.model_id, m.model_version, m.inspected) for m in seen] == [
        ("mdl_tile", 4, 40),
        ("mdl_tile", 3, 120),
        ("mdl_edge", 4, 10),
    ]
    assert (seen[0].first_hour, seen[0].last_hour) == (T0 + timedelta(hours=2), T0 + timedelta(hours=2))
    assert (seen[1].first_hour, seen[1].last_hour) == (T0, T0 + timedelta(hours=1))
    line2 = query.model_versions_seen(session, site_id="plant-a", lines={"line-2"})
    assert [(m.model_id, m.model_version) for m in line2] == [("mdl_edge", 4)]
    later = query.model_versions_seen(session, site_id="plant-a", lines=None, start=T0 + timedelta(hours=2))
    assert [(m.model_id, m.model_version) for m in later] == [("mdl_tile", 4)]


def test_alerts_filtered_by_the_model_of_their_event(session: Session) -> None:
    v3 = factory.event("node-1", verdict="fail", defects=("scratch",))
    v4 = factory.event("node-1", verdict="fail", defects=("scratch",), model=NEW_MODEL)
    alerts = [factory.alert("node-1", event_id=str(e["event_id"])) for e in (v3, v4)]
    _ingest(session, NODES["node-1"], [v3, v4], [*alerts, factory.alert("node-1")])
    everything = query.recent_alerts(session, site_id="plant-a", lines=None, sealer=NoEncryption())
    assert len(everything) == 3
    of_v4 = query.recent_alerts(
        session, site_id="plant-a", lines=None, sealer=NoEncryption(), model_id="mdl_tile", model_version=4
    )
    assert [a.alert_id for a in of_v4] == [alerts[1]["alert_id"]]


def test_node_health_filtered_by_the_model_cameras_run(session: Session) -> None:
    hb = NodeHeartbeat.model_validate(factory.heartbeat("node-1", cameras=("cam-1", "cam-2")))
    ingest.record_heartbeat(session, node=NODES["node-1"], heartbeat=hb)
    running = query.node_health(session, site_id="plant-a", lines=None, model_version=3)
    assert [(v.node_id, [c.camera_id for c in v.cameras]) for v in running] == [
        ("node-1", ["cam-1", "cam-2"])
    ]
    assert query.node_health(session, site_id="plant-a", lines=None, model_version=4) == []


def test_whole_days_from_the_daily_rollup_agree_with_the_hours(session: Session) -> None:
    """A range from mid-morning of one day to mid-morning three days later: the two
    whole days come from rollup_daily, the partial days from rollup_hourly."""
    day0 = T0.replace(hour=0)
    failing = {i for i in range(18) if i % 3 == 0}
    events = [
        factory.event(
            "node-1",
            verdict="fail" if i in failing else "pass",
            defects=("scratch",) if i in failing else (),
            at=day0 + timedelta(hours=5 * i),
        )
        for i in range(18)
    ]
    _ingest(session, NODES["node-1"], events)
    start, end = day0 + timedelta(hours=7), day0 + timedelta(days=3, hours=9)
    common = {"site_id": "plant-a", "start": start, "end": end, "lines": None}
    daily = query.quality_over_time(session, bucket="day", group_by="site", **common)  # type: ignore[arg-type]
    hourly = query.quality_over_time(session, bucket="hour", group_by="site", **common)  # type: ignore[arg-type]
    per_day: Counter[datetime] = Counter()
    for p in hourly:
        per_day[p.bucket_start.replace(hour=0)] += p.inspected
    assert {p.bucket_start: p.inspected for p in daily} == dict(per_day)
    in_range = [e for e in events if start <= datetime.fromisoformat(str(e["captured_at"])) < end]
    assert sum(per_day.values()) == len(in_range)
    pareto = query.defect_pareto(session, **common)  # type: ignore[arg-type]
    assert [(e.defect_class, e.parts) for e in pareto] == [
        ("scratch", sum(1 for e in in_range if e["verdict"] == "fail"))
    ]


def test_a_table_holding_sealed_v1_and_v2_reads_back_whole(
    session: Session, engine: Engine, tmp_path: Path
) -> None:
    """Rows sealed before sealed v2 (v1, as older servers wrote them) and after it sit in
    the same tables; the read paths open both: alert messages and part ids."""
    sessions = session_factory(engine)
    keyring = Keyring.create(tmp_path / "k.json", SecretStr("mixed"), kdf=KdfParams.insecure_for_tests())
    envelope = Envelope(keyring, SqlDataKeyStore(sessions))
    events = [
        factory.event("node-1", verdict="fail", defects=("scratch",), part_id=f"P-{i}") for i in range(4)
    ]
    alerts = [factory.alert("node-1", event_id=str(e["event_id"])) for e in events]
    batch = IngestBatch.model_validate(factory.batch("node-1", events, alerts))
    ingest.ingest_batch(session, node=NODES["node-1"], batch=batch, sealer=envelope, audit=AuditTrail())
    # Half the rows as a server before v2 sealed them: the same record, a v1 object and its own key row.
    store = SqlDataKeyStore.bound(session)
    for row in session.scalars(select(AlertRow).order_by(AlertRow.alert_id)).all()[:2]:
        object_id = f"{row.node_id}:{row.idempotency_key}"
        row.message_sealed = seal_v1(
            keyring, store, b"old server's text", object_id=object_id, category="alerts"
        )
    for row in session.scalars(select(InspectionEventRow).order_by(InspectionEventRow.event_id)).all()[:2]:
        object_id = f"{row.node_id}:{row.idempotency_key}"
        row.part_id_sealed = seal_v1(
            keyring, store, b"P-old", object_id=object_id, category="inspection_events"
        )
    session.commit()

    with sessions() as reading:
        stored = reading.scalars(select(AlertRow)).all()
        assert sorted(r.message_sealed[6] for r in stored) == [1, 1, 2, 2]
        assert sorted(r.part_id_sealed[6] for r in reading.scalars(select(InspectionEventRow))) == [
            1,
            1,
            2,
            2,
        ]
        messages = [
            a.message for a in query.recent_alerts(reading, site_id="plant-a", lines=None, sealer=envelope)
        ]
        assert sorted(messages) == sorted(["old server's text"] * 2 + [str(alerts[0]["message"])] * 2)
        parts = [record_view(r, sealer=envelope).part_id for r in reading.scalars(select(InspectionEventRow))]
    assert len(parts) == 4 and parts.count("P-old") == 2
    assert set(parts) - {"P-old"} <= {f"P-{i}" for i in range(4)} and len(set(parts) - {"P-old"}) == 2


def test_part_ids_share_a_key_per_line_hour_and_read_back_beside_older_per_event_keys(
    session: Session, engine: Engine, tmp_path: Path
) -> None:
    """Ingest seals part ids under one key per line and hour of capture; rows a server
    sealed before (one key per event) sit beside them and both read back."""
    sessions = session_factory(engine)
    keyring = Keyring.create(tmp_path / "k.json", SecretStr("buckets"), kdf=KdfParams.insecure_for_tests())
    envelope = Envelope(keyring, SqlDataKeyStore(sessions), bucketed=BUCKETED_CATEGORIES)
    before_buckets = Envelope(keyring, SqlDataKeyStore(sessions))
    line1 = [factory.event("node-1", part_id=f"P-{i}", at=T0 + timedelta(minutes=20 * i)) for i in range(6)]
    line2 = [factory.event("node-2", camera_id="cam-9", line_id="line-2", part_id="P-L2", at=T0)]

    def send(node: str, events: list[dict[str, object]], sealer: Envelope) -> None:
        batch = IngestBatch.model_validate(factory.batch(node, events))
        ingest.ingest_batch(session, node=NODES[node], batch=batch, sealer=sealer, audit=AuditTrail())

    send("node-1", line1[:2], before_buckets)  # 06:00, 06:20: a key per event
    send("node-1", line1[2:], envelope)  # 06:40 | 07:00, 07:20, 07:40
    send("node-2", line2, envelope)
    send("node-1", line1[2:], envelope)  # resent: duplicates, no key written

    with sessions() as reading:
        keys = reading.scalars(
            select(DataKeyRow.object_id).where(DataKeyRow.category == "inspection_events")
        ).all()
        parts = {
            r.idempotency_key: record_view(r, sealer=envelope).part_id
            for r in reading.scalars(select(InspectionEventRow))
        }
    assert sorted(k for k in keys if k.startswith("#")) == [
        "#h/2026030206/plant-a/line-1",
        "#h/2026030206/plant-a/line-2",
        "#h/2026030207/plant-a/line-1",
    ]
    assert sorted(k for k in keys if not k.startswith("#")) == sorted(
        f"node-1:{e['idempotency_key']}" for e in line1[:2]
    )
    assert parts == {str(e["idempotency_key"]): e["part_id"] for e in line1 + line2}
