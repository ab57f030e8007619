"""A real enterprise roll-up for tests: its own CA and database, uvicorn over real TLS on loopback.

``Rollup.start()`` / ``stop()`` bring the listener up and down on the same port (the
roll-up being "down" is nothing listening there); ``enrol`` runs the plant side
(``plant_request``) and the roll-up side (``enrol_plant``) of a plant's enrolment.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.enterprise import EnterpriseServiceConfig
from lineguard.config.secrets import SecretRef
from lineguard.enterprise import (
    Role,
    create_enterprise_app,
    create_token,
    enrol_plant,
    init_enterprise_ca,
    open_enterprise_storage,
    plant_request,
    service_tls,
)
from lineguard.server.tls import ServerThread

__all__ = ["PlantCredentials", "Rollup", "free_port", "make_rollup"]

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

    def token(self, role: Role) -> str:
        with self.sessions.begin() as session:
            _token_id, token = create_token(session, holder=f"test {role.value}", role=role)
        return token

    def client(
        self, credentials: PlantCredentials | None = None, *, token: str | None = None
    ) -> httpx.Client:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        if credentials is not None:
            context.load_cert_chain(str(credentials.cert_file), str(credentials.key_file))
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, verify=context, headers=headers, timeout=10, trust_env=False)


def make_rollup(directory: Path, database_url: str) -> Rollup:
    """A roll-up with its CA made and its database opened, not yet listening."""
    secret = directory / "ca-passphrase"
    directory.mkdir(parents=True, exist_ok=True)
    secret.write_text(PASSPHRASE, encoding="utf-8")
    config = EnterpriseServiceConfig(
        kind="enterprise",
        data_dir=directory / "data",
        database_url=database_url,
        ca_passphrase=SecretRef(file=secret),
    )
    init_enterprise_ca(config)
    engine, sessions = open_enterprise_storage(config)
    return Rollup(config=config, engine=engine, sessions=sessions, port=free_port())
