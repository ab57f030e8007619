"""Node batches over a real Mosquitto (TLS, client certificates, per-node topic ACL) into a real server.

The broker trusts the plant CA for clients (nodes present the certificate they enrolled
with) and the OT CA for its own certificate and the server's client certificate. Its ACL
lets a node write only under its own id and the server read every node's topics.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from fastapi import FastAPI
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine, func, select

from lineguard.config.egress import EgressConfig, EgressRule
from lineguard.config.server import IngestLimits, IngestMqttConfig, ServerConfig
from lineguard.contracts.events import IngestBatch
from lineguard.edge.identity import enroll, node_ssl_context
from lineguard.edge.outbox.mqtt import MqttTransport
from lineguard.server.app import create_app
from lineguard.server.ingest.models import InspectionEventRow
from lineguard.server.ingest.mqtt import MqttIngest, Outcome
from lineguard.server.pki import PlantCa, ca_paths
from lineguard.server.protection import NoEncryption
from lineguard.server.tls import ServerThread
from tests.support.mosquitto import Mosquitto
from tests.support.test_pki import TestCa
from tests.support.waiting import until
from tests.unit.server.conftest import AuditTrail, Plant, make_plant_ca
from tests.unit.server.ingest import factory

PREFIX = "lineguard/nodes"
ACL = f"""user lineguard-server
topic read {PREFIX}/+/+

pattern write {PREFIX}/%u/batch
pattern write {PREFIX}/%u/heartbeat
"""


@dataclass
class Rig:
    settings: ServerConfig
    ca: PlantCa
    broker: Mosquitto
    engine: Engine
    audit: AuditTrail
    plant: Plant | None = None
    app: FastAPI | None = None

    @contextlib.contextmanager
    def server(self) -> Iterator[Plant]:
        """The plant server (real uvicorn, TLS), started afresh on the same database and data."""
        self.app = create_app(
            self.settings, engine=self.engine, sealer=NoEncryption(), audit=self.audit, ca=self.ca
        )
        paths = ca_paths(self.settings.data_dir)
        with ServerThread(
            self.app, cert_file=paths.server_cert, key_file=paths.server_key, ca_file=paths.cert
        ) as server:
            self.plant = Plant(self.settings, self.ca, self.engine, server, self.audit)
            yield self.plant

    def consumer(self) -> MqttIngest:
        assert self.app is not None
        consumer = self.app.state.lineguard.ingest.mqtt
        assert isinstance(consumer, MqttIngest)
        return consumer

    def node(self, node_id: str, tmp_path: Path) -> MqttTransport:
        assert self.plant is not None
        enroll(self.plant.url, self.plant.token(node_id), tmp_path / node_id)
        transport = MqttTransport(
            host="127.0.0.1",
            port=self.broker.port,
            node_id=node_id,
            ssl_context=_node_context(self, tmp_path / node_id),
        )
        until(lambda: transport.connected)
        return transport

    def stored(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(InspectionEventRow)) or 0)


def _node_context(rig: Rig, node_dir: Path) -> ssl.SSLContext:
    context = node_ssl_context(node_dir)  # the node's enrolled certificate, the plant CA pinned
    context.load_verify_locations(cafile=rig.broker.ca.cert_path)  # and the broker's issuer
    return context


@pytest.fixture
def rig(tmp_path: Path, engine: Engine, audit_trail: AuditTrail) -> Iterator[Rig]:
    data_dir = tmp_path / "server"
    plant_ca = make_plant_ca(data_dir)
    ot = TestCa(tmp_path / "ot-ca", "ot")
    broker = Mosquitto(
        tmp_path / "mosquitto", ot, acl=ACL, persistence=True, client_cas=(ca_paths(data_dir).cert,)
    )
    leaf = broker.client_leaf("lineguard-server")
    settings = ServerConfig(
        kind="server",
        site_id="plant-a",
        data_dir=data_dir,
        ingest=IngestLimits(
            mqtt=IngestMqttConfig(
                url=f"mqtts://127.0.0.1:{broker.port}",
                client_cert=leaf.cert,
                client_key=leaf.key,
                topic_prefix=PREFIX,
            )
        ),
        egress=EgressConfig(
            allow=[EgressRule(scheme="mqtts", host="127.0.0.1", port=broker.port, ca_file=ot.cert_path)]
        ),
    )
    broker.start()
    try:
        yield Rig(settings, plant_ca, broker, engine, audit_trail)
    finally:
        broker.stop()


def _batch(node_id: str, n: int) -> IngestBatch:
    return IngestBatch.model_validate(factory.batch(node_id, [factory.event(node_id) for _ in range(n)]))


def _outcomes(rig: Rig, node_id: str) -> list[Outcome]:
    return [o for o in rig.consumer().outcomes if o.node_id == node_id]


def test_batches_over_mqtt_are_checked_stored_once_and_audited(rig: Rig, tmp_path: Path) -> None:
    with rig.server():
        until(lambda: rig.consumer().subscribed)
        node = rig.node("node-a", tmp_path)
        try:
            batch = _batch("node-a", 3)
            node.send_batch(batch)
            node.send_batch(batch)  # a PUBACK lost, the outbox sends it again
            until(lambda: len(_outcomes(rig, "node-a")) == 2)
            # each event is a part seen in one frame: 3 events + 3 part verdicts
            assert [(o.stored, o.duplicates) for o in _outcomes(rig, "node-a")] == [(6, 0), (0, 6)]
            assert rig.stored() == 3

            # Another node's id in the topic: the broker's ACL drops it, the server never sees it.
            intruder = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="intruder", protocol=mqtt.MQTTv311)
            intruder.tls_set_context(_node_context(rig, tmp_path / "node-a"))
            intruder.connect("127.0.0.1", rig.broker.port)
            intruder.loop_start()
            forged = _batch("node-b", 2)
            intruder.publish(f"{PREFIX}/node-b/batch", forged.model_dump_json(), qos=1).wait_for_publish(10)
            intruder.disconnect()
            intruder.loop_stop()

            # Bad input: refused with the reason, audited, acknowledged; what follows still flows.
            node._publish("batch", b'{"schema_version": 1, "events": "not a list"}')
            node.send_batch(_batch("node-a", 2))
            until(lambda: len(_outcomes(rig, "node-a")) == 4)
        finally:
            node.close()
    refused, after = _outcomes(rig, "node-a")[2:]
    assert refused.refused is not None and refused.refused.startswith(
        "invalid IngestBatch: node_id: is required"
    )
    assert (after.stored, after.refused) == (4, None)
    assert _outcomes(rig, "node-b") == []
    assert rig.stored() == 5
    names = rig.audit.names()
    assert names.count("ingest.batch_accepted") == 3
    assert names.count("ingest.batch_rejected") == 1


def test_server_down_and_broker_restart_lose_nothing(rig: Rig, tmp_path: Path) -> None:
    with rig.server():
        until(lambda: rig.consumer().subscribed)  # the persistent session exists at the broker
        node = rig.node("node-a", tmp_path)
        node.send_batch(_batch("node-a", 2))
        until(lambda: rig.stored() == 2)
    try:
        node.send_batch(_batch("node-a", 3))  # the server is down: the broker keeps it (QoS 1)
        rig.broker.stop()  # and restarts, from its persistence file
        rig.broker.start()
        until(lambda: node.connected, timeout_s=40)
        node.send_batch(_batch("node-a", 4))
        assert rig.stored() == 2
        with rig.server():  # the server comes back: same client id, same session
            until(lambda: rig.stored() == 9, timeout_s=30)
            assert sum(o.stored for o in rig.consumer().outcomes) == 2 * 7  # events and their parts
    finally:
        node.close()
