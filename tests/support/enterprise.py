"""A real enterprise roll-up for tests: its own CA and database, uvicorn over real TLS on loopback.

``Rollup.start()`` / ``stop()`` bring the listener up and down on the same port (the
roll-up being "down" is nothing listening there); ``enrol`` runs the plant side
(``plant_request``) and the roll-up side (``enrol_plant``) of a plant's enrolment.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.enterprise import EnterpriseServiceConfig
from lineguard.config.keyring import KeyringConfig
from lineguard.config.secrets import SecretRef
from lineguard.config.server import ServerConfig
from lineguard.enterprise import (
    Role,
    checkpoint,
    create_enterprise_app,
    create_token,
    enrol_plant,
    init_enterprise_ca,
    open_enterprise_storage,
    open_rollup_audit_key,
    plant_request,
    public_key_file,
    service_tls,
    verify_log,
)
from lineguard.enterprise.service import token_expiry
from lineguard.server.egress import build_gate
from lineguard.server.enterprise import RollupSender
from lineguard.server.ingest import ALL_PARTS, AlertRow, RollupDaily
from lineguard.server.storage import session_factory, upgrade_to_head, utcnow
from lineguard.server.tls import ServerThread
from tests.unit.server.conftest import AuditTrail

__all__ = [
    "NOON",
    "Clock",
    "PlantCredentials",
    "PlantSide",
    "Rollup",
    "free_port",
    "make_plant",
    "make_rollup",
    "plant_settings",
]

PASSPHRASE = "enterprise roll-up passphrase"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class PlantCredentials:
    plant_id: str
    cert_file: Path
    key_file: Path


@dataclass
class Rollup:
    config: EnterpriseServiceConfig
    engine: Engine
    sessions: sessionmaker[Session]
    port: int
    server: ServerThread | None = field(default=None)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path:
        return service_tls(self.config).cert

    @property
    def address(self) -> tuple[int, Path]:
        """``(port, CA file)``: what a plant needs to reach and trust this roll-up."""
        return self.port, self.ca_file

    def start(self) -> None:
        tls = service_tls(self.config)
        self.server = ServerThread(
            create_enterprise_app(self.config, self.sessions),
            port=self.port,
            cert_file=tls.server_cert,
            key_file=tls.server_key,
            ca_file=tls.cert,
        )
        self.server.__enter__()

    def stop(self) -> None:
        if self.server is not None:
            self.server.__exit__(None, None, None)
            self.server = None

    def enrol(self, plant_id: str, directory: Path) -> PlantCredentials:
        made = plant_request(directory, plant_id=plant_id)
        issued = enrol_plant(
            self.config,
            self.sessions,
            plant_id=plant_id,
            csr_pem=made.csr_file.read_bytes(),
            actor="cli:enterprise.test",
        )
        cert_file = directory / "enterprise.crt.pem"
        cert_file.write_text(issued.pem, encoding="ascii")
        return PlantCredentials(plant_id, cert_file, made.key_file)

    def token(self, role: Role, *, expires_at: datetime | None = None) -> str:
        """A token as ``token create`` makes it (default expiry), without its audit entry."""
        if expires_at is None:
            config = self.config
            expires_at = token_expiry(
                days=None, default_days=config.token_days, max_days=config.token_max_days, now=utcnow()
            )
        with self.sessions.begin() as session:
            _token_id, token = create_token(
                session, holder=f"test {role.value}", role=role, expires_at=expires_at
            )
        return token

    def verify_audit(self) -> int:
        """Sign a checkpoint with the roll-up's key, then verify the whole log: its entries."""
        with self.sessions.begin() as session:
            checkpoint(session, open_rollup_audit_key(self.config))
        with self.sessions() as session:
            return verify_log(session, public_key_file(self.config).read_bytes()).entries

    def client(
        self, credentials: PlantCredentials | None = None, *, token: str | None = None
    ) -> httpx.Client:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        if credentials is not None:
            context.load_cert_chain(str(credentials.cert_file), str(credentials.key_file))
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, verify=context, headers=headers, timeout=10, trust_env=False)


def make_rollup(directory: Path, database_url: str, **settings: Any) -> Rollup:
    """A roll-up with its CA made and its database opened, not yet listening (``settings``: config fields)."""
    secret = directory / "ca-passphrase"
    directory.mkdir(parents=True, exist_ok=True)
    secret.write_text(PASSPHRASE, encoding="utf-8")
    keyring_secret = directory / "keyring-passphrase"
    keyring_secret.write_text("enterprise keyring passphrase", encoding="utf-8")
    settings.setdefault("keyring", KeyringConfig(passphrase=SecretRef(file=keyring_secret)))
    config = EnterpriseServiceConfig(
        kind="enterprise",
        data_dir=directory / "data",
        database_url=database_url,
        ca_passphrase=SecretRef(file=secret),
        **settings,
    )
    init_enterprise_ca(config)
    engine, sessions = open_enterprise_storage(config)
    return Rollup(config=config, engine=engine, sessions=sessions, port=free_port())


# -- the plant's side ------------------------------------------------------------------

#: The plants' "now" in tests that drive their sender by hand.
NOON = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def plant_settings(
    tmp: Path,
    site_id: str,
    rollup: tuple[int, Path],
    creds: PlantCredentials,
    *,
    addresses: list[str] | None = None,
) -> ServerConfig:
    """A plant sending to the roll-up at ``(port, CA file)`` on loopback, allowed by its egress rule."""
    port, ca_file = rollup
    rule: dict[str, Any] = {"scheme": "https", "host": "127.0.0.1", "port": port, "ca_file": ca_file}
    if addresses is not None:
        rule["addresses"] = addresses
    return ServerConfig.model_validate(
        {
            "kind": "server",
            "site_id": site_id,
            "data_dir": tmp / site_id,
            "egress": {"allow": [rule]},
            "enterprise": {
                "enabled": True,
                "url": f"https://127.0.0.1:{port}",
                "client_cert_file": creds.cert_file,
                "client_key_file": creds.key_file,
                "interval_s": 10,
                "retry_max_s": 60,
            },
        }
    )


@dataclass
class PlantSide:
    settings: ServerConfig
    engine: Engine
    sessions: sessionmaker[Session]
    trail: AuditTrail
    clock: Clock
    sender: RollupSender

    def add_parts(self, line: str, *, passed: int, failed: int, scratch: int = 0, cam: str = "cam-1") -> None:
        """Parts judged on ``line`` today, as ingest adds them to ``rollup_daily``."""
        site = self.settings.site_id
        with self.sessions.begin() as s:
            for cls, n_passed, n_failed in ((ALL_PARTS, passed, failed), ("scratch", 0, scratch)):
                n = n_passed + n_failed
                if n == 0:
                    continue
                key = {
                    "site_id": site,
                    "defect_class": cls,
                    "day": datetime(2026, 12, 1, tzinfo=UTC),
                    "line_id": line,
                    "camera_id": cam,
                    "model_id": "mdl",
                    "model_version": 1,
                }
                row = s.get(RollupDaily, tuple(key.values()))
                if row is None:
                    s.execute(
                        insert(RollupDaily).values(
                            **key,
                            inspected=n,
                            passed=n_passed,
                            failed=n_failed,
                            uncertain=0,
                            frames=n,
                            frames_failed=n_failed,
                        )
                    )
                else:
                    row.inspected += n
                    row.passed += n_passed
                    row.failed += n_failed

    def add_alert(self, line: str, key: str) -> None:
        with self.sessions.begin() as s:
            s.execute(
                insert(AlertRow).values(
                    alert_id=f"alr_{key}",
                    idempotency_key=key,
                    node_id="node-1",
                    site_id=self.settings.site_id,
                    line_id=line,
                    camera_id="cam-1",
                    kind="defect",
                    severity="warning",
                    raised_at=NOON,
                    received_at=NOON,
                    message_sealed=b"sealed",
                )
            )


def make_plant(settings: ServerConfig, engine: Engine) -> PlantSide:
    upgrade_to_head(engine)
    sessions = session_factory(engine)
    trail = AuditTrail()
    clock = Clock(NOON)
    gate = build_gate(settings, sessions=sessions, audit=trail)
    sender = RollupSender(
        config=settings.enterprise,
        plant_id=settings.site_id,
        site_id=settings.site_id,
        sessions=sessions,
        audit=trail,
        gate=gate,
        clock=clock,
    )
    return PlantSide(settings, engine, sessions, trail, clock, sender)
