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
from lineguard.server.nodes import Node
from lineguard.server.pki import PlantCa
from lineguard.server.registry import ModelVersion, ModelVersionState, Registry, ReleaseRow
from lineguard.server.storage import create_engine_for, session_factory, upgrade_to_head
from lineguard.signing.keystore import SigningKeyStore
from lineguard.vision.package import (
    EvaluationSummary,
    InputSpec,
    ModelMetadata,
    ThresholdSpec,
    TrainingDataSpec,
)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PASSPHRASE = "correct horse battery staple"
OWNERS = {
    "audit_log_reviewer": {"username": "ada.audit", "review_interval_days": 30},
    "security_owner": {"username": "ivan.it", "review_interval_days": 90},
    "data_protection_contact": {"username": "dana.dpo", "review_interval_days": 365},
}


def plant_settings(data_dir: Path, db_url: str, **governance: Any) -> ServerConfig:
    return ServerConfig.model_validate(
        {
            "kind": "server",
            "site_id": "plant-a",
            "data_dir": str(data_dir),
            "database": {"url": db_url},
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
        """Access control on the plant's clock (``NOW``), so grant end dates are checked against it."""
        runtime = AuthRuntime.build(self.settings.site_id, self.settings.auth)
        runtime.clock = lambda: NOW
        return runtime

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
                session,
                runtime=runtime,
                username=username,
                display_name=username.replace(".", " ").title(),
                by="cli:test",
                audit=self.audit,
            )
            user.created_at, user.last_login_at = created, last_login
            if mfa:
                user.totp_sealed = b"sealed-totp-secret"  # what enrollment stores (sealed), never read here
            for role in roles:
                grant_role(
                    session,
                    runtime=runtime,
                    grantee=user,
                    role=role,
                    lines=lines,
                    until=until,
                    by=None,
                    by_label="cli:test",
                    audit=self.audit,
                )
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

    def add_node(self, node_id: str, line: str, cameras: list[str]) -> None:
        """An enrolled node as the enrollment flow leaves it (tested in tests/unit/server/nodes)."""
        with self.sessions.begin() as session:
            session.add(
                Node(node_id=node_id, site_id=self.settings.site_id, line_id=line, camera_ids=cameras)
            )

    def add_deployed_model(self, model_id: str = "part-a") -> str:
        """A registered, approved and deployed version with its package metadata, as the registry
        workflow leaves them (that workflow is tested in tests/unit/server/registry)."""
        version_id = f"mv_{model_id}"
        metadata = ModelMetadata(
            model_id=model_id,
            created_at=NOW - timedelta(days=3),
            method="multiscale-gaussian",
            backbone="mobilenetv2",
            model_sha256="ab" * 32,
            input=InputSpec(width=224, height=224, mean=(0.5, 0.5, 0.5), std=(0.2, 0.2, 0.2)),
            threshold=ThresholdSpec(
                value=3.25, method="good_quantile", target_frr=0.01, validation_good_count=40
            ),
            training_data=TrainingDataSpec(
                sha256="cd" * 32, image_count=120, description="line-1 good parts"
            ),
            evaluation=EvaluationSummary(dataset="held-out line-1 images", image_auroc=0.987, good_count=20),
        )
        package = Registry.stored_package(self.settings.data_dir, version_id)
        package.mkdir(parents=True)
        (package / "metadata.json").write_text(metadata.model_dump_json(), "utf-8")
        with self.sessions.begin() as session:
            session.add(
                ModelVersion(
                    id=version_id,
                    model_id=model_id,
                    version=1,
                    sha256="ab" * 32,
                    signer_key_id="k" * 16,
                    state=ModelVersionState.APPROVED,
                    registered_by="u1",
                    registered_by_actor="user:quinn.quality",
                    registered_at=NOW - timedelta(days=2),
                    decided_by="u2",
                    decided_by_actor="user:sam.super",
                    decided_at=NOW - timedelta(days=1),
                )
            )
            session.flush()
            session.add(
                ReleaseRow(
                    id=f"rel_{model_id}",
                    release=1,
                    kind="deploy",
                    model_version_id=version_id,
                    lines=["line-1"],
                    nodes=[],
                    created_by_actor="user:quinn.quality",
                    created_at=NOW - timedelta(hours=20),
                )
            )
        return version_id

    def write_config(self, path: Path) -> Path:
        path.write_text(yaml.safe_dump(self.settings.model_dump(mode="json", exclude_defaults=True)), "utf-8")
        return path


@contextmanager
def open_plant(db_url: str, data_dir: Path, **governance: Any) -> Iterator[Plant]:
    settings = plant_settings(data_dir, db_url, **governance)
    data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine_for(db_url)
    upgrade_to_head(engine)
    try:
        yield Plant(settings, engine, session_factory(engine), AuditRecorder())
    finally:
        engine.dispose()


def write_edge_config(
    path: Path,
    node_id: str,
    line: str,
    cameras: list[tuple[str, list[str]]],
    full_frame: dict[str, str] | None = None,
    **evidence: int,
) -> Path:
    """An edge.yaml with one synthetic camera per ``(camera_id, privacy zone names)``;
    ``full_frame`` names cameras whose evidence keeps the whole frame, with the purpose."""
    full_frame = full_frame or {}
    config = {
        "kind": "edge",
        "node": {
            "node_id": node_id,
            "site_id": "plant-a",
            "line_id": line,
            "data_dir": str(path.parent / node_id),
        },
        "cameras": [
            {
                "camera_id": camera,
                "station_id": f"st-{i + 1}0",
                "source": {"type": "synthetic"},
                "model": "/opt/models/part-a",
                "roi": {"x": 100, "y": 50, "width": 400, "height": 300},
                "redaction": "blur",
                "pass_sample_rate": 0.02,
                "privacy_zones": [{"name": z, "points": [[0, 0], [10, 0], [10, 10]]} for z in zones],
                "evidence": (
                    {"full_frame": True, "full_frame_purpose": full_frame[camera]}
                    if camera in full_frame
                    else {"margin_px": 24}
                ),
            }
            for i, (camera, zones) in enumerate(cameras)
        ],
        "evidence": evidence,
    }
    path.write_text(yaml.safe_dump(config), "utf-8")
    return path
