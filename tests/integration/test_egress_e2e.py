"""The plant server makes no connection outside its egress allowlist, across a whole run.

A Python audit hook records every ``socket.connect`` of the process (every thread) while
a real server app (``create_app``, its lifespan loops running) turns a node's work-order
trigger into a recommendation, auto-approves it by policy, delivers it over TLS to a CMMS
that first redirects it to a host off the allowlist, takes the CMMS's signed "closed"
status back, publishes the inspections to a real Mosquitto over mutual TLS, and forwards
its audit log to a SIEM over syslog/TLS. Every recorded connection must go to an
allowlisted destination (or the test's own database); the redirect target must see
nothing and be on record as ``egress.denied``. On SQLite and PostgreSQL.

Native code below Python is outside what an audit hook sees: the system-call level test
(tests/integration/test_egress_syscalls.py) covers that.
"""

from __future__ import annotations

import json
import socket
import ssl
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select
from tests.support.fake_cmms import FakeWebhook
from tests.support.http_stub import HttpStub, Reply
from tests.support.mosquitto import Mosquitto
from tests.support.test_pki import TestCa
from tests.support.waiting import until

from lineguard.config.server import ServerConfig
from lineguard.contracts.ids import new_id
from lineguard.server.app import create_app
from lineguard.server.audit import AuditRecorder
from lineguard.server.audit.models import AuditEntryRow
from lineguard.server.audit.syslog import SyslogTarget, forward_new_entries
from lineguard.server.ingest import AlertRow, InspectionEventRow, WorkOrderRow
from lineguard.server.integrations import CmmsDeliveryRow, replay_in_transaction, sign
from lineguard.server.integrations.recommendations import set_auto_approval
from lineguard.server.protection import NoEncryption
from lineguard.server.storage import create_engine_for, session_factory

_CONNECTS: list[tuple[str, int]] = []
_RECORDING = [False]


def _self_pipe() -> bool:
    """Whether the connect comes from paho's socketpair emulation: a loopback pair to a
    listener the same call just opened in this process (its wake-up pipe), not egress."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_name == "_socketpair_compat" and "paho" in frame.f_code.co_filename:
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if _RECORDING[0] and event == "socket.connect":
        address = args[1]
        if isinstance(address, tuple) and len(address) >= 2 and not _self_pipe():
            _CONNECTS.append((str(address[0]), int(address[1])))


sys.addaudithook(_hook)  # once per process; audit hooks cannot be removed, _RECORDING gates it

WEBHOOK_KEY = "e2e-webhook-key-0123456789abcdef0123456789"
STATUS_KEY = "e2e-status-key-0123456789abcdef0123456789ab"


@pytest.fixture
def recording() -> Iterator[list[tuple[str, int]]]:
    _CONNECTS.clear()
    _RECORDING[0] = True
    yield _CONNECTS
    _RECORDING[0] = False


class TlsSyslog:
    """A SIEM: a TLS listener that keeps what it receives."""

    def __init__(self, ca: TestCa) -> None:
        leaf = ca.issue(["localhost", "127.0.0.1"], stem="siem")
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(str(leaf.cert), str(leaf.key))
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.received = bytearray()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        with self.context.wrap_socket(conn, server_side=True) as tls:
            while chunk := tls.recv(65536):
                self.received.extend(chunk)


def test_a_whole_run_connects_only_to_allowlisted_destinations(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, recording: list[tuple[str, int]]
) -> None:
    monkeypatch.setenv("LG_E2E_WEBHOOK_KEY", WEBHOOK_KEY)
    monkeypatch.setenv("LG_E2E_STATUS_KEY", STATUS_KEY)
    ca = TestCa(tmp_path / "pki", "plant")
    cmms_leaf = ca.issue(["localhost"], stem="cmms")
    broker = Mosquitto(tmp_path / "mosquitto", ca, host_name="localhost")
    broker.start()
    mqtt_leaf = broker.client_leaf("lineguard-plant-a")
    siem = TlsSyslog(ca)
    elsewhere = HttpStub(lambda r: Reply(body=b"{}")).__enter__()
    cmms = FakeWebhook(key_id="k1", secret=WEBHOOK_KEY, tls=cmms_leaf, faults=["redirect"],
                       redirect_to=f"http://127.0.0.2:{elsewhere.port}/steal").__enter__()  # fmt: skip
    pinned = {"ca_file": str(ca.cert_path), "addresses": ["127.0.0.0/8"]}
    data_dir = tmp_path / "server"
    data_dir.mkdir(mode=0o700)
    settings = ServerConfig.model_validate(
        {
            "kind": "server", "site_id": "plant-a", "data_dir": str(data_dir),
            "egress": {"allow": [
                {"scheme": "https", "host": "localhost", "port": cmms.port, **pinned},
                {"scheme": "mqtts", "host": "localhost", "port": broker.port, **pinned},
                {"scheme": "syslog+tls", "host": "localhost", "port": siem.port, **pinned},
            ]},
            "integrations": {
                "cmms": [{"kind": "webhook", "name": "hook",
                          "url": f"https://localhost:{cmms.port}/hooks/work-orders",
                          "signing": {"key_id": "k1", "secret": {"env": "LG_E2E_WEBHOOK_KEY"}}}],
                "delivery": {"poll_interval_s": 0.1, "backoff_base_s": 0.05},
                "status_webhook": {"keys": [{"key_id": "c1", "secret": {"env": "LG_E2E_STATUS_KEY"}}]},
                "mqtt": {"url": f"mqtts://localhost:{broker.port}", "client_id": "lineguard-plant-a",
                         "client_cert": str(mqtt_leaf.cert), "client_key": str(mqtt_leaf.key),
                         "publish_interval_s": 0.1},
                "rules": {"interval_s": 0.2},
            },
        }
    )  # fmt: skip
    engine = create_engine_for(db_url)
    sessions = session_factory(engine)
    database = urlsplit(db_url)
    own = {(database.hostname or "", database.port or 0)} if database.hostname else set()

    received: list[mqtt.MQTTMessage] = []
    subscriber = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="scada")
    scada = broker.client_leaf("scada")
    subscriber.tls_set(ca_certs=str(ca.cert_path), certfile=str(scada.cert), keyfile=str(scada.key))
    subscriber.on_message = lambda c, u, m: received.append(m)
    subscriber.connect("127.0.0.1", broker.port)
    subscriber.subscribe("lineguard/#", qos=1)
    subscriber.loop_start()
    try:
        app = create_app(settings, engine=engine, sealer=NoEncryption(), audit=AuditRecorder())
        with TestClient(app) as client:
            now = datetime.now(UTC)
            event_id, trigger_id = new_id("ev"), new_id("wot")
            with sessions.begin() as session:
                set_auto_approval(session, rule="node_trigger", enabled=True, actor="user:admin",
                                  audit=AuditRecorder(), now=now)  # fmt: skip
                session.add(InspectionEventRow(
                    event_id=event_id, idempotency_key=event_id, node_id="n1", site_id="plant-a",
                    line_id="line-1",
                    station_id="st-3", camera_id="cam-1", part_id_sealed=None, frame_id=1, captured_at=now,
                    received_at=now, model_id="m", model_version=1, model_sha256="0" * 64, verdict="fail",
                    anomaly_score=0.9, threshold=0.5, regions=[], evidence_ref=None, latency_ms=5.0,
                ))  # fmt: skip
                session.add(AlertRow(
                    alert_id=new_id("al"), idempotency_key=new_id("k"), node_id="n1", site_id="plant-a",
                    line_id="line-1", camera_id="cam-1", kind="defect", severity="warning", raised_at=now,
                    received_at=now, message_sealed=b"x", event_id=event_id, defect_class="scratch",
                ))  # fmt: skip
                session.add(WorkOrderRow(
                    trigger_id=trigger_id, idempotency_key=trigger_id, node_id="n1", site_id="plant-a",
                    line_id="line-1", station_id="st-3", created_at=now, received_at=now, reason_sealed=b"x",
                    defect_class="scratch", priority="high", event_ids=[event_id],
                ))  # fmt: skip
            state = app.state.lineguard.integrations
            # The CMMS's first answer redirects off the allowlist: refused, dead-lettered, replayed.
            until(
                lambda: (
                    client.get("/api/v1/integrations/deliveries").status_code in {401, 403}
                    and _count(sessions, "dead") == 1
                ),
                timeout_s=30,
            )
            assert replay_in_transaction(sessions, audit=AuditRecorder(), actor="user:admin") == 1
            state.wake.set()
            until(lambda: len(cmms.created) == 1 and _count(sessions, "delivered") == 1, timeout_s=30)
            (order,) = [c["work_order"] for c in cmms.created.values()]
            body = json.dumps({"work_order_id": order["work_order_id"], "status": "closed"}).encode()
            answer = client.post("/api/v1/integrations/cmms/hook/status", content=body,
                                 headers=sign(body, key_id="c1", key=STATUS_KEY.encode()))  # fmt: skip
            assert answer.status_code == 200 and answer.json()["result"] == "closed"
            until(lambda: any(m.topic.endswith("/verdict") for m in received), timeout_s=30)
            with sessions() as session:
                target = SyslogTarget(f"tls://localhost:{siem.port}", app.state.lineguard.egress)
                assert (
                    forward_new_entries(session, target, state_path=tmp_path / "fwd.seq", hostname="srv") > 0
                )
    finally:
        _RECORDING[0] = False
        subscriber.disconnect()
        subscriber.loop_stop()
        cmms.__exit__()
        elsewhere.__exit__(None, None, None)
        broker.stop()
        engine.dispose()

    allowed = {("127.0.0.1", cmms.port), ("127.0.0.1", broker.port), ("127.0.0.1", siem.port)} | own
    outside = sorted({c for c in recording if c not in allowed and not c[0].startswith("/")})
    assert outside == [], f"connections outside the allowlist: {outside}"
    assert ("127.0.0.1", cmms.port) in recording and ("127.0.0.1", siem.port) in recording
    assert elsewhere.requests == []
    with session_factory(create_engine_for(db_url))() as session:
        names = [r.name for r in session.scalars(select(AuditEntryRow).order_by(AuditEntryRow.seq))]
    assert "egress.denied" in names and "cmms.work_order_sent" in names and "cmms.work_order_closed" in names
    siem.thread.join(10)  # the forwarder closed its connection: the listener has read everything
    assert b"cmms.work_order_closed" in bytes(siem.received)


def _count(sessions: Any, state: str) -> int:
    with sessions() as session:
        return len(session.scalars(select(CmmsDeliveryRow).where(CmmsDeliveryRow.state == state)).all())
