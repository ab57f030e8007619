"""Backup → restore round trips between SQLite and PostgreSQL; tampered archives refused, nothing written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.server import ServerConfig
from lineguard.contracts.audit import EvidenceAccessed
from lineguard.contracts.errors import ConflictError, IntegrityError
from lineguard.crypto import Envelope, KdfParams, Keyring, keyring_path
from lineguard.server.audit import (
    AuditSigner,
    DatabaseLog,
    Ed25519Verifier,
    create_checkpoint,
    load_public_key,
    record,
)
from lineguard.server.backup import create_backup, restore_backup, verify_backup
from lineguard.server.ingest.models import InspectionEventRow
from lineguard.server.keystore import SqlDataKeyStore
from lineguard.server.storage import Base, create_engine_for, session_factory, upgrade_to_head
from tests.unit.server.retention.conftest import add_event

KEYRING_PASS = SecretStr("keyring passphrase for the backup tests")
BACKUP_PASS = SecretStr("a different passphrase for the backup")
KDF = KdfParams.insecure_for_tests


def _settings(root: Path) -> ServerConfig:
    return ServerConfig(kind="server", site_id="plant-a", data_dir=root)


def _populate(
    settings: ServerConfig, sessions: sessionmaker[Session]
) -> tuple[dict[str, bytes], AuditSigner]:
    keyring = Keyring.create(keyring_path(settings.data_dir), KEYRING_PASS, kdf=KDF())
    envelope = Envelope(keyring, SqlDataKeyStore(sessions))
    sealed = {key: add_event(sessions, envelope, key, age) for key, age in (("a", 1), ("b", 2), ("c", 3))}
    signer = AuditSigner.load_or_create(settings.data_dir / "audit", keyring)
    for i in range(5):
        with sessions.begin() as session:
            record(session, EvidenceAccessed(evidence_ref=f"evd_{i}"), actor="user:qe")
    with sessions.begin() as session:
        create_checkpoint(session, signer, site_id="plant-a")
    (settings.data_dir / "ca").mkdir()
    (settings.data_dir / "ca" / "ca.crt.pem").write_text("-----BEGIN CERTIFICATE-----\nstub\n")
    return sealed, signer


def _dump(sessions: sessionmaker[Session]) -> dict[str, list[tuple[object, ...]]]:
    with sessions() as session:
        return {
            t.name: [tuple(r) for r in session.execute(select(t).order_by(*t.primary_key.columns)).all()]
            for t in Base.metadata.sorted_tables
            if t.name != "alembic_version"
        }


def _migrated(url: str) -> tuple[Engine, sessionmaker[Session]]:
    engine = create_engine_for(url)
    upgrade_to_head(engine)
    return engine, session_factory(engine)


@pytest.fixture
def source(tmp_path: Path, engine: Engine) -> Iterator[tuple[ServerConfig, Engine, sessionmaker[Session]]]:
    """A populated server on the parametrised engine (SQLite or PostgreSQL)."""
    upgrade_to_head(engine)
    yield _settings(tmp_path / "src"), engine, session_factory(engine)


def _check_restored(
    settings: ServerConfig, sessions: sessionmaker[Session], sealed: dict[str, bytes], signer: AuditSigner
) -> None:
    keyring = Keyring(keyring_path(settings.data_dir), KEYRING_PASS)
    envelope = Envelope(keyring, SqlDataKeyStore(sessions))
    for key, blob in sealed.items():
        assert (
            envelope.open(blob, object_id=f"node-1:{key}", category="inspection_events")
            == f"part-{key}".encode()
        )
    public = load_public_key((settings.data_dir / "audit" / "signing-key.pub.pem").read_bytes())
    with sessions() as session:
        assert Ed25519Verifier(public).verify(DatabaseLog(session, site_id="plant-a")).entries == 5
    assert AuditSigner.load_or_create(settings.data_dir / "audit", keyring).key_id == signer.key_id
    assert (settings.data_dir / "ca" / "ca.crt.pem").read_text().startswith("-----BEGIN")


def test_round_trip_from_either_engine_into_sqlite(
    source: tuple[ServerConfig, Engine, sessionmaker[Session]], tmp_path: Path
) -> None:
    settings, engine, sessions = source
    sealed, signer = _populate(settings, sessions)
    archive = tmp_path / "plant.lgbackup"
    report = create_backup(settings, engine, sessions, archive, BACKUP_PASS, kdf=KDF())
    assert report.rows > 10 and report.files >= 5 and len(report.sha256) == 64
    assert b"part-a" not in archive.read_bytes()
    manifest = verify_backup(archive, BACKUP_PASS)
    assert manifest.tables["inspection_events"] == 3 and "keys/keyring.json" in manifest.files

    target_settings = _settings(tmp_path / "dst")
    target_engine, target_sessions = _migrated(f"sqlite:///{tmp_path / 'restored.db'}")
    restore_backup(target_settings, target_engine, target_sessions, archive, BACKUP_PASS)
    assert _dump(target_sessions) == _dump(sessions)
    _check_restored(target_settings, target_sessions, sealed, signer)
    target_engine.dispose()


def test_round_trip_from_sqlite_into_either_engine(tmp_path: Path, db_url: str) -> None:
    settings = _settings(tmp_path / "src")
    src_engine, src_sessions = _migrated(f"sqlite:///{tmp_path / 'source.db'}")
    sealed, signer = _populate(settings, src_sessions)
    archive = tmp_path / "plant.lgbackup"
    create_backup(settings, src_engine, src_sessions, archive, BACKUP_PASS, kdf=KDF())

    target_settings = _settings(tmp_path / "dst")
    engine, sessions = _migrated(db_url)
    restore_backup(target_settings, engine, sessions, archive, BACKUP_PASS)
    assert _dump(sessions) == _dump(src_sessions)
    _check_restored(target_settings, sessions, sealed, signer)
    # New rows get fresh ids after a restore (PostgreSQL sequences were moved past the restored ones).
    keyring = Keyring(keyring_path(target_settings.data_dir), KEYRING_PASS)
    add_event(sessions, Envelope(keyring, SqlDataKeyStore(sessions)), "after-restore", 0)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(InspectionEventRow)) == 4
    engine.dispose()
    src_engine.dispose()


@pytest.fixture
def archive(tmp_path: Path) -> tuple[Path, ServerConfig]:
    settings = _settings(tmp_path / "src")
    engine, sessions = _migrated(f"sqlite:///{tmp_path / 'source.db'}")
    _populate(settings, sessions)
    path = tmp_path / "plant.lgbackup"
    create_backup(settings, engine, sessions, path, BACKUP_PASS, kdf=KDF())
    engine.dispose()
    return path, settings


def _assert_nothing_written(tmp_path: Path, url: str) -> None:
    engine, sessions = _migrated(url)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(InspectionEventRow)) == 0
    engine.dispose()
    assert not (tmp_path / "dst").exists() or not any((tmp_path / "dst").rglob("*"))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: b[:2000] + bytes([b[2000] ^ 1]) + b[2001:], "failed authentication"),
        (lambda b: b[: len(b) // 2], "truncated|failed authentication"),
        (lambda b: b.replace(b"plant-a", b"plant-b", 1), "failed authentication"),
        (lambda b: b"NOTABACK" + b[8:], "not a LineGuard backup"),
        (lambda b: b[:-1] + bytes([b[-1] ^ 0x80]), "failed authentication"),
    ],
    ids=["flipped-byte", "truncated", "header-edited", "wrong-magic", "last-byte"],
)
def test_tampered_archive_is_refused_and_nothing_written(
    archive: tuple[Path, ServerConfig], tmp_path: Path, damage: object, message: str
) -> None:
    path, _ = archive
    path.write_bytes(damage(path.read_bytes()))  # type: ignore[operator]
    with pytest.raises(IntegrityError, match=message):
        verify_backup(path, BACKUP_PASS)
    url = f"sqlite:///{tmp_path / 'target.db'}"
    engine, sessions = _migrated(url)
    with pytest.raises(IntegrityError, match=message):
        restore_backup(_settings(tmp_path / "dst"), engine, sessions, path, BACKUP_PASS)
    engine.dispose()
    _assert_nothing_written(tmp_path, url)


def test_wrong_passphrase_is_refused(archive: tuple[Path, ServerConfig]) -> None:
    with pytest.raises(IntegrityError, match="passphrase is wrong"):
        verify_backup(archive[0], SecretStr("not the passphrase"))


def test_restore_refuses_a_non_empty_database(archive: tuple[Path, ServerConfig], tmp_path: Path) -> None:
    path, settings = archive
    engine, sessions = _migrated(f"sqlite:///{tmp_path / 'busy.db'}")
    with sessions.begin() as session:
        record(session, EvidenceAccessed(evidence_ref="evd_x"), actor="user:qe")
    with pytest.raises(ConflictError, match="not empty"):
        restore_backup(_settings(tmp_path / "dst"), engine, sessions, path, BACKUP_PASS)
    assert not (tmp_path / "dst" / "keys").exists()
    with pytest.raises(ConflictError, match="already exists"):
        restore_backup(settings, engine, sessions, path, BACKUP_PASS)  # its own data_dir is full
    engine.dispose()
