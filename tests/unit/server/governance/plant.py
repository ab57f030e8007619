"""A plant to run the doctor and the documents against: a real database (``db_url``), real
accounts and grants, and — for the complete plant — a real CA, keyring, audit key and
signing key under ``data_dir``. The clock is explicit: ``now`` is passed to the services."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.server import ServerConfig
from lineguard.crypto.kdf import KdfParams
from lineguard.server.audit import AuditRecorder, AuditSigner, create_checkpoint
from lineguard.server.auth import AuthRuntime, Role, User
from lineguard.server.auth.accounts import create_user
from lineguard.server.auth.grants import grant_role
from lineguard.server.keystore import open_keyring
from lineguard.server.pki import PlantCa
from lineguard.server.storage import create_engine_for, session_factory, upgrade_to_head
from lineguard.signing.keystore import SigningKeyStore

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PASSPHRASE = "correct horse battery staple"
OWNERS = {
    "audit_log_reviewer": {"username": "ada.audit", "review_interval_days": 30},
    "security_owner": {"username": "ivan.it", "review_interval_days": 90},
    "data_protection_contact": {"username": "dana.dpo", "review_interval_days": 365},
}


def plant_settings(data_dir: Path, **governance: Any) -> ServerConfig:
    return ServerConfig.model_validate(
        {
            "kind": "server",
            "site_id": "plant-a",
            "data_dir": str(data_dir),
            "auth": {"argon2_time_cost": 1, "argon2_memory_kib": 8, "argon2_parallelism": 1},
            "governance": governance,
        }
    )


@dataclass
class Plant:
    settings: ServerConfig
    engine: Engine
    sessions: sessionmaker[Session]
    audit: AuditRecorder

    @property
    def runtime(self) -> AuthRuntime:
        return AuthRuntime.build(self.settings.site_id, self.settings.auth)

    def add_person(
        self,
        username: str,
        roles: Iterable[Role] = (),
        *,
        mfa: bool = True,
        lines: Iterable[str] | None = None,
        until: datetime | None = None,
        last_login: datetime | None = NOW - timedelta(days=1),
        created: datetime = NOW - timedelta(days=200),
    ) -> User:
        runtime = self.runtime
        with self.sessions() as session:
            user, _ = create_user(
                session, runtime=runtime, username=username, display_name=username.replace(".", " ").title(),
                by="cli:test", audit=self.audit,
            )  # fmt: skip
            user.created_at, user.last_login_at = created, last_login
            if mfa:
                user.totp_sealed = b"sealed-totp-secret"  # what enrollment stores (sealed), never read here
            for role in roles:
                grant_role(
                    session, runtime=runtime, grantee=user, role=role, lines=lines, until=until,
                    by=None, by_label="cli:test", audit=self.audit,
                )  # fmt: skip
            session.commit()
            return user

    def rename(self, user: User, username: str) -> None:
        with self.sessions.begin() as session:
            row = session.get(User, user.id)
            assert row is not None
            row.username = username

    def complete_security(self) -> None:
        """CA and server certificate, keyring, audit key with a checkpoint, a model-signing key."""
        ca = PlantCa.create(self.settings.data_dir, SecretStr(PASSPHRASE), site_id=self.settings.site_id)
        ca.issue_server_certificate(self.settings.data_dir, names=["localhost"])
        keyring = open_keyring(self.settings, create=True, kdf=KdfParams(n=2**10, _testing=True))
        signer = AuditSigner.load_or_create(self.settings.data_dir / "audit", keyring)
        with self.sessions.begin() as session:
            create_checkpoint(session, signer, site_id=self.settings.site_id)
        SigningKeyStore(self.settings.data_dir / "signing").create(SecretStr(PASSPHRASE), label="qa")

    def write_config(self, path: Path) -> Path:
        path.write_text(yaml.safe_dump(self.settings.model_dump(mode="json", exclude_defaults=True)), "utf-8")
        return path


@contextmanager
def open_plant(db_url: str, data_dir: Path, **governance: Any) -> Iterator[Plant]:
    settings = plant_settings(data_dir, **governance)
    data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine_for(db_url)
    upgrade_to_head(engine)
    try:
        yield Plant(settings, engine, session_factory(engine), AuditRecorder())
    finally:
        engine.dispose()
