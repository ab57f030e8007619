"""A CMMS rig: a migrated database (SQLite and PostgreSQL), the real audit chain, an egress
gate whose only fake is DNS (``cmms.plant.test`` → 127.0.0.1), a fake CMMS product
served over real TLS from a test CA, and a dispatcher on a clock the test advances."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.server import ServerConfig
from lineguard.contracts.ids import new_id
from lineguard.server.audit import AuditRecorder
from lineguard.server.audit.models import AuditEntryRow
from lineguard.server.egress import EgressGate, IpAddress, build_gate
from lineguard.server.integrations import CmmsDeliveryRow, IntegrationsState, WorkOrder, queue_work_order
from lineguard.server.protection import NoEncryption
from lineguard.server.storage import session_factory, upgrade_to_head
from tests.support.fake_cmms import FakeCmms, FakeMaintainX, FakeSapPm, FakeUpKeep, FakeWebhook
from tests.support.test_pki import TestCa

CMMS_HOST = "cmms.plant.test"
SECRETS = {
    "LG_TEST_WEBHOOK_KEY": "whk-S3CRET-0123456789abcdef0123456789abcdef",
    "LG_TEST_MAINTAINX_KEY": "mx-S3CRET-token-5d1c0ffee",
    "LG_TEST_UPKEEP_TOKEN": "uk-S3CRET-session-77aa",
    "LG_TEST_SAP_PASSWORD": "sap-S3CRET-pw-Init1234",
}
KINDS = ["webhook", "maintainx", "upkeep", "sap_pm"]


def fake_resolver(host: str, port: int) -> list[IpAddress]:
    return [ipaddress.ip_address("127.0.0.1")]


def make_fake(kind: str, *, faults: list[str], tls: Any, redirect_to: str = "") -> FakeCmms:
    common: dict[str, Any] = {"faults": faults, "tls": tls, "redirect_to": redirect_to}
    if kind == "webhook":
        return FakeWebhook(key_id="k1", secret=SECRETS["LG_TEST_WEBHOOK_KEY"], **common)
    if kind == "maintainx":
        return FakeMaintainX(api_key=SECRETS["LG_TEST_MAINTAINX_KEY"], **common)
    if kind == "upkeep":
        return FakeUpKeep(token=SECRETS["LG_TEST_UPKEEP_TOKEN"], **common)
    return FakeSapPm(user="LG_TECH", password=SECRETS["LG_TEST_SAP_PASSWORD"], **common)


def destination(kind: str, base: str) -> dict[str, Any]:
    if kind == "webhook":
        return {
            "kind": "webhook", "name": "hook", "url": f"{base}/hooks/work-orders",
            "signing": {"key_id": "k1", "secret": {"env": "LG_TEST_WEBHOOK_KEY"}},
        }  # fmt: skip
    if kind == "maintainx":
        return {
            "kind": "maintainx", "name": "mx", "base_url": base, "api_key": {"env": "LG_TEST_MAINTAINX_KEY"},
            "categories": ["Quality"],
        }  # fmt: skip
    if kind == "upkeep":
        return {"kind": "upkeep", "name": "uk", "base_url": f"{base}/api/v2",
                "session_token": {"env": "LG_TEST_UPKEEP_TOKEN"}}  # fmt: skip
    return {
        "kind": "sap_pm", "name": "sap", "service_url": f"{base}/sap/opu/odata/sap/API_MAINTNOTIFICATION",
        "username": "LG_TECH", "password": {"env": "LG_TEST_SAP_PASSWORD"},
    }  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Rig:
    settings: ServerConfig
    sessions: sessionmaker[Session]
    gate: EgressGate
    state: IntegrationsState
    clock: Clock
    orders: list[WorkOrder] = field(default_factory=list)
    #: Every error message the dispatcher produced (what an operator would read).
    errors: list[str] = field(default_factory=list)

    def queue(self, n: int, *, line: str = "line-1") -> list[WorkOrder]:
        new = []
        for _ in range(n):
            wid = new_id("wo")
            order = WorkOrder(
                work_order_id=wid, idempotency_key=f"idem-{wid}", title="Scratch cluster on station 3",
                description="3 scratch defects within 10 minutes on line-1/station-3 (rule defect_burst).",
                priority="high", site_id="plant-a", line_id=line, station_id="station-3", camera_id="cam-1",
                asset_id="4711", location_id="12", defect_class="scratch", evidence_ref="ev-0001",
                source="rule:defect_burst", created_at=self.clock.now,
            )  # fmt: skip
            with self.sessions.begin() as session:
                queue_work_order(
                    session, order=order, sealer=NoEncryption(), destinations=sorted(self.state.connectors),
                    now=self.clock.now,
                )  # fmt: skip
            new.append(order)
        self.orders += new
        return new

    def drain(self, rounds: int = 60) -> None:
        """Run delivery rounds, skipping backoff delays, until nothing is pending."""
        for _ in range(rounds):
            self.errors += self.state.dispatcher.run_once().errors
            if not self.pending():
                return
            self.clock.advance(100_000)
        raise AssertionError(f"still pending after {rounds} rounds: {self.rows()}")

    def pending(self) -> int:
        return sum(1 for r in self.rows() if r.state == "pending")

    def rows(self) -> list[CmmsDeliveryRow]:
        with self.sessions() as session:
            return list(session.scalars(select(CmmsDeliveryRow).order_by(CmmsDeliveryRow.created_at)))

    def audit(self) -> list[tuple[str, dict[str, Any]]]:
        with self.sessions() as session:
            rows = session.scalars(select(AuditEntryRow).order_by(AuditEntryRow.seq)).all()
            return [
                (r.name, json.loads(r.payload) if isinstance(r.payload, str) else r.payload) for r in rows
            ]


@pytest.fixture
def cmms_secrets(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)
    return SECRETS


@pytest.fixture
def plant_ca(tmp_path: Path) -> TestCa:
    return TestCa(tmp_path / "pki", "plant")


@pytest.fixture
def migrated(engine: Engine) -> sessionmaker[Session]:
    upgrade_to_head(engine)
    return session_factory(engine)


def build_rig(
    tmp_path: Path,
    sessions: sessionmaker[Session],
    cmms: list[dict[str, Any]],
    rules: list[dict[str, Any]],
    **delivery: Any,
) -> Rig:
    settings = ServerConfig.model_validate(
        {
            "kind": "server", "site_id": "plant-a", "data_dir": str(tmp_path / "server"),
            "egress": {
                "allow": rules, "read_timeout_s": 0.5, "connect_timeout_s": 2, "max_response_bytes": 65536,
            },
            "integrations": {
                "cmms": cmms,
                "delivery": {"max_attempts": 10, "backoff_base_s": 1, "backoff_max_s": 60, **delivery},
            },
        }
    )  # fmt: skip
    audit = AuditRecorder()
    gate = build_gate(settings, sessions=sessions, audit=audit, resolver=fake_resolver)
    state = IntegrationsState.build(
        settings, sessions=sessions, sealer=NoEncryption(), audit=audit, gate=gate
    )
    clock = Clock()
    state.dispatcher.clock = clock
    return Rig(settings=settings, sessions=sessions, gate=gate, state=state, clock=clock)


@pytest.fixture
def rig_factory(
    tmp_path: Path, migrated: sessionmaker[Session], plant_ca: TestCa, cmms_secrets: dict[str, str]
) -> Iterator[Any]:
    """``rig_factory(kind, faults=[...], **delivery)`` → (rig, fake) over TLS from the plant CA."""
    fakes: list[FakeCmms] = []
    leaf = plant_ca.issue([CMMS_HOST], stem="cmms")

    def make(kind: str, *, faults: list[str] = (), redirect_to: str = "", tls: Any = None, **delivery: Any):  # type: ignore[no-untyped-def]
        fake = make_fake(kind, faults=list(faults), tls=tls or leaf, redirect_to=redirect_to).__enter__()
        fakes.append(fake)
        base = f"https://{CMMS_HOST}:{fake.port}"
        rule = {"scheme": "https", "host": CMMS_HOST, "port": fake.port, "ca_file": str(plant_ca.cert_path)}
        return build_rig(tmp_path, migrated, [destination(kind, base)], [rule], **delivery), fake

    yield make
    for fake in fakes:
        fake.__exit__()
