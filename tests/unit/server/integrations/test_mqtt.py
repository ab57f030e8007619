"""The MQTT publisher against a real Mosquitto (TLS, client certificates) and a real subscriber:
QoS 1 verdicts and alerts, retained line state, Sparkplug B, and a broker restart that loses
nothing. SQLite and PostgreSQL (the database is the publisher's queue)."""

from __future__ import annotations

import ipaddress
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.egress import EgressConfig, EgressRule
from lineguard.config.integrations import MqttConfig
from lineguard.contracts.errors import ConfigError
from lineguard.contracts.ids import new_id
from lineguard.server.egress import EgressGate
from lineguard.server.ingest import ALL_PARTS, AlertRow, InspectionEventRow, RollupHourly
from lineguard.server.integrations.mqtt import MqttPublisher, payload_class
from tests.support.mosquitto import Mosquitto
from tests.support.test_pki import Leaf, TestCa
from tests.support.waiting import until

BROKER = "broker.ot.test"


class Subscriber:
    """A plain paho client (not the code under test) that records what it receives."""

    def __init__(self, broker: Mosquitto, leaf: Leaf, topics: list[str]) -> None:
        self.messages: list[mqtt.MQTTMessage] = []
        self.subscribed = threading.Event()
        self._topics = topics
        self._lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"sub-{new_id('s')[-8:]}")
        self.client.tls_set(ca_certs=str(broker.ca.cert_path), certfile=str(leaf.cert), keyfile=str(leaf.key))
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.on_disconnect = lambda *a: self.subscribed.clear()
        self.client.reconnect_delay_set(0.2, 1)
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        assert self.subscribed.wait(10), "subscriber did not subscribe"

    def _on_connect(self, client: mqtt.Client, *args: Any) -> None:
        client.subscribe([(t, 1) for t in self._topics])

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(message)

    def received(self, suffix: str) -> list[mqtt.MQTTMessage]:
        with self._lock:
            return [m for m in self.messages if m.topic.endswith(suffix)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _add_events(sessions: sessionmaker[Session], n: int, *, verdict: str = "fail") -> list[str]:
    now = datetime.now(UTC)
    ids = [new_id("ev") for _ in range(n)]
    with sessions.begin() as session:
        for event_id in ids:
            session.add(
                InspectionEventRow(
                    event_id=event_id, idempotency_key=event_id, node_id="n1", site_id="plant-a",
                    line_id="line-1", station_id="st-3", camera_id="cam-1", part_id_sealed=b"sealed-part",
                    frame_id=1, captured_at=now, received_at=now, model_id="m", model_version=3,
                    model_sha256="0" * 64, verdict=verdict, anomaly_score=0.93, threshold=0.5,
                    regions=[{"defect_class": "scratch", "box": [0, 0, 1, 1]}], evidence_ref="ev-ref-secret",
                    latency_ms=12.5,
                )
            )  # fmt: skip
        hour = now.replace(minute=0, second=0, microsecond=0)
        row = session.get(RollupHourly, ("plant-a", ALL_PARTS, hour, "line-1", "cam-1", "m", 3))
        if row is None:
            row = RollupHourly(
                site_id="plant-a", defect_class=ALL_PARTS, hour=hour, line_id="line-1", camera_id="cam-1",
                model_id="m", model_version=3, inspected=0, passed=0, failed=0, uncertain=0,
            )  # fmt: skip
            session.add(row)
        row.inspected += n
        row.failed += n
    return ids


def _add_alert(sessions: sessionmaker[Session]) -> str:
    alert_id = new_id("al")
    now = datetime.now(UTC)
    with sessions.begin() as session:
        session.add(
            AlertRow(
                alert_id=alert_id, idempotency_key=alert_id, node_id="n1", site_id="plant-a",
                line_id="line-1", camera_id="cam-1", kind="defect", severity="warning", raised_at=now,
                received_at=now,
                message_sealed=b"free text stays home", event_id=None, defect_class="scratch",
            )
        )  # fmt: skip
    return alert_id


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    ca = TestCa(tmp_path / "ot-ca", "ot")
    broker = Mosquitto(tmp_path / "mosquitto", ca, host_name=BROKER)
    broker.start()
    yield broker
    broker.stop()


def _publisher(broker: Mosquitto, sessions: sessionmaker[Session], **mqtt_config: Any) -> MqttPublisher:
    leaf = broker.client_leaf("lineguard-server")
    config = MqttConfig(
        url=f"mqtts://{BROKER}:{broker.port}", client_id="lineguard-plant-a", client_cert=leaf.cert,
        client_key=leaf.key, publish_interval_s=0.1, **mqtt_config,
    )  # fmt: skip
    rule = EgressRule(scheme="mqtts", host=BROKER, port=broker.port, ca_file=broker.ca.cert_path)
    gate = EgressGate(EgressConfig(allow=[rule]), resolver=lambda h, p: [ipaddress.ip_address("127.0.0.1")])
    return MqttPublisher(config, gate, sessions, "plant-a")


def test_verdicts_alerts_and_retained_line_state_survive_a_broker_restart(
    broker: Mosquitto, migrated: sessionmaker[Session]
) -> None:
    subscriber = Subscriber(broker, broker.client_leaf("scada"), ["lineguard/#"])
    publisher = _publisher(broker, migrated)
    publisher.start()
    try:
        assert publisher.wait_connected(10)
        first = _add_events(migrated, 5)
        alert = _add_alert(migrated)
        assert publisher.run_once().published == 5 + 1 + 1  # verdicts, alert, line state
        until(lambda: len(subscriber.received("/verdict")) >= 5 and subscriber.received("/alert"))
        verdict = json.loads(subscriber.received("/verdict")[0].payload)
        assert subscriber.received("/verdict")[0].topic == "lineguard/plant-a/line-1/cam-1/verdict"
        assert verdict["verdict"] == "fail" and verdict["defect_classes"] == ["scratch"]
        assert "part_id" not in verdict and "evidence_ref" not in json.dumps(verdict)  # metadata only
        assert "free text" not in subscriber.received("/alert")[0].payload.decode()
        assert json.loads(subscriber.received("/alert")[0].payload)["alert_id"] == alert
        assert all(m.qos == 1 for m in subscriber.messages if not m.topic.endswith("/status"))

        broker.stop()  # the broker goes away; inspections go on
        until(lambda: not publisher.connected)
        second = _add_events(migrated, 5)
        assert publisher.run_once().skipped_reason == "not connected"
        with migrated() as session:
            assert publisher.queued(session) == 5
        broker.start()
        until(lambda: subscriber.subscribed.is_set() and publisher.connected, timeout_s=40)
        until(lambda: publisher.run_once().published > 0 or not _queued(publisher, migrated))
        assert not _queued(publisher, migrated)
        until(
            lambda: (
                {json.loads(m.payload)["event_id"] for m in subscriber.received("/verdict")} >= set(second)
            )
        )
        received = {json.loads(m.payload)["event_id"] for m in subscriber.received("/verdict")}
        assert received == set(first) | set(second)  # nothing lost
    finally:
        publisher.stop()
        subscriber.close()
    late = Subscriber(broker, broker.client_leaf("late"), ["lineguard/plant-a/line-1/state"])
    try:
        until(lambda: bool(late.received("/state")))
        state = late.received("/state")[-1]
        assert state.retain and json.loads(state.payload)["inspected"] == 10  # retained: seen on connect
    finally:
        late.close()


def _queued(publisher: MqttPublisher, sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return publisher.queued(session)


def test_sparkplug_b_birth_data_and_death(broker: Mosquitto, migrated: sessionmaker[Session]) -> None:
    subscriber = Subscriber(broker, broker.client_leaf("scada"), ["spBv1.0/#"])
    publisher = _publisher(broker, migrated, sparkplug=True, sparkplug_group="plant")
    publisher.start()
    try:
        assert publisher.wait_connected(10)
        until(lambda: bool(subscriber.received("/NBIRTH/plant-a")))
        _add_events(migrated, 3)
        publisher.run_once()
        _add_events(migrated, 2)
        publisher.run_once()
        until(lambda: bool(subscriber.received("/DDATA/plant-a/line-1")))
    finally:
        publisher.stop()
    until(lambda: bool(subscriber.received("/NDEATH/plant-a")))
    subscriber.close()
    decode = payload_class()

    def metrics(message: mqtt.MQTTMessage) -> tuple[int, dict[str, Any]]:
        payload = decode()
        payload.ParseFromString(message.payload)
        values = {m.name: getattr(m, m.WhichOneof("value")) for m in payload.metrics}
        return payload.seq, values

    topics = [m.topic for m in subscriber.messages]
    assert topics == [
        "spBv1.0/plant/NBIRTH/plant-a", "spBv1.0/plant/DBIRTH/plant-a/line-1",
        "spBv1.0/plant/DDATA/plant-a/line-1", "spBv1.0/plant/NDEATH/plant-a",
    ]  # fmt: skip
    seqs = [metrics(m)[0] for m in subscriber.messages[:3]]
    assert seqs == [0, 1, 2]  # one sequence across birth and data, as the specification asks
    assert metrics(subscriber.messages[0])[1]["bdSeq"] == metrics(subscriber.messages[3])[1]["bdSeq"]
    assert metrics(subscriber.messages[1])[1]["inspected"] == 3
    assert metrics(subscriber.messages[2])[1] == {
        "inspected": 5,
        "passed": 0,
        "failed": 5,
        "uncertain": 0,
        "yield": 0.0,
    }


def test_a_broker_off_the_allowlist_is_a_config_error(
    tmp_path: Path, migrated: sessionmaker[Session]
) -> None:
    from lineguard.config.server import ServerConfig
    from lineguard.server.audit import AuditRecorder
    from lineguard.server.egress import build_gate
    from lineguard.server.integrations import IntegrationsState
    from lineguard.server.protection import NoEncryption

    settings = ServerConfig.model_validate({
        "kind": "server", "site_id": "plant-a", "data_dir": str(tmp_path),
        "integrations": {"mqtt": {"url": "mqtts://broker.ot.test:8883", "client_id": "lg"}},
    })  # fmt: skip
    gate = build_gate(settings, sessions=migrated, audit=AuditRecorder())
    with pytest.raises(ConfigError) as info:
        IntegrationsState.build(
            settings, sessions=migrated, sealer=NoEncryption(), audit=AuditRecorder(), gate=gate
        )
    assert info.value.details == ["integrations.mqtt.url: mqtts://broker.ot.test:8883 is not in egress.allow"]


def test_one_publisher_per_server_however_many_workers(
    broker: Mosquitto,
    migrated: sessionmaker[Session],
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two workers (SQLite: a flock each) or two replicas (PostgreSQL: an advisory lock each)."""
    import asyncio

    from lineguard.server.integrations import scheduled
    from lineguard.server.storage import Leadership

    monkeypatch.setattr(scheduled, "LEADER_RETRY_S", 0.05)
    lock = tmp_path / "leader-mqtt-publisher.lock"
    first, second = _publisher(broker, migrated), _publisher(broker, migrated)  # two workers, one client id

    async def scenario() -> None:
        a = asyncio.create_task(scheduled.mqtt_loop(first, Leadership(engine, tmp_path), 0.05))
        b = asyncio.create_task(scheduled.mqtt_loop(second, Leadership(engine, tmp_path), 0.05))
        # Both race for the lock from their own threads; either may win, exactly one does.
        await asyncio.to_thread(until, lambda: first.connected or second.connected)
        await asyncio.sleep(0.5)
        assert first.connected != second.connected  # the other worker waits: no session ping-pong
        (leader, lead_task), (waiter, wait_task) = (
            ((first, a), (second, b)) if first.connected else ((second, b), (first, a))
        )
        lead_task.cancel()  # the leading worker stops (or dies: the kernel drops its lock)
        await asyncio.gather(lead_task, return_exceptions=True)
        assert not leader.connected
        await asyncio.to_thread(until, lambda: waiter.connected)
        wait_task.cancel()
        await asyncio.gather(wait_task, return_exceptions=True)

    asyncio.run(scenario())
    if engine.dialect.name == "sqlite":
        assert not lock.stat().st_mode & 0o077  # private, like the rest of data_dir
