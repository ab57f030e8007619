"""Create, verify and restore encrypted backups of the plant server.

Inside the encrypted stream (:mod:`.archive`) is an uncompressed tar:

* ``tables/<table>/<part>.jsonl`` — every row of every table (:mod:`.rows`), in parts
  of at most ``ROWS_PER_PART`` rows so memory stays bounded;
* ``files/<path>`` — the files under ``data_dir`` that matter (keyring, CA, audit key,
  model packages…); SQLite files are copied through SQLite's backup API so they are
  consistent; the main database is in ``tables/`` instead;
* ``manifest.json`` last — Alembic revision, row count and sha256 of every member.

Plaintext never touches the disk on create or verify: the tar is written into and read
out of the encrypted stream directly. ``verify`` reads the whole archive (every chunk
authenticated, every member hashed and matched against the manifest) and writes
nothing. ``restore`` verifies first, then loads every table into an *empty* database
in one transaction and only then writes the files: a tampered archive, a wrong
passphrase or a non-empty target leaves everything as it was.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from pydantic import SecretStr
from sqlalchemy import Engine, Integer, func, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from lineguard import __version__
from lineguard.config.server import ServerConfig
from lineguard.contracts.errors import ConflictError, CryptoError, IntegrityError
from lineguard.contracts.ids import new_id
from lineguard.crypto import DecryptingReader, EncryptingWriter, KdfParams, atomic_write, utc_text
from lineguard.server.backup.archive import ArchiveHeader, read_header, write_header
from lineguard.server.backup.rows import decode_row, encode_row
from lineguard.server.storage import Base, current_heads, load_all_models

__all__ = ["BackupReport", "Manifest", "create_backup", "restore_backup", "verify_backup"]

ROWS_PER_PART = 20_000
#: Tables whose rows a fresh migration already holds, replaced on restore.
_SEEDED = {"audit_chain_head", "alembic_version"}
Progress = Callable[[str], None]


@dataclass
class Manifest:
    backup_id: str
    site_id: str
    created_at: str
    alembic_revision: str
    lineguard_version: str
    tables: dict[str, int] = field(default_factory=dict)
    members: dict[str, str] = field(default_factory=dict)  # name → sha256
    files: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class BackupReport:
    backup_id: str
    sha256: str
    tables: int
    rows: int
    files: int


def _key(passphrase: SecretStr, kdf: KdfParams) -> bytes:
    return kdf.derive(passphrase.get_secret_value(), 32)


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(16) == b"SQLite format 3\x00"


def _data_files(settings: ServerConfig, main_db: Path | None) -> Iterator[tuple[str, Path]]:
    """(archive name, path) of every file under data_dir worth keeping."""
    root = settings.data_dir
    skip_dirs = {root / "backups"}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if here / d not in skip_dirs)
        for name in sorted(filenames):
            path = here / name
            if main_db is not None and path.name.startswith(main_db.name) and path.parent == main_db.parent:
                continue  # the main database travels as tables
            if name.endswith((".lock", ".tmp", ".partial", "-wal", "-shm", "-journal")) or not path.is_file():
                continue
            yield str(PurePosixPath(*path.relative_to(root).parts)), path


def _snapshot(path: Path) -> bytes:
    """A consistent copy of a file; SQLite databases through the backup API."""
    if not _is_sqlite(path):
        return path.read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "copy.db"
        src, dst = sqlite3.connect(path), sqlite3.connect(copy)
        try:
            src.backup(dst)
        finally:
            src.close()
            dst.close()
        return copy.read_bytes()


class _Tar:
    """Members into a streaming tar, each hashed for the manifest."""

    def __init__(self, out: BinaryIO, manifest: Manifest) -> None:
        self.tar = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT)  # noqa: SIM115
        self.manifest = manifest

    def add(self, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(data), 0o600, 0
        self.tar.addfile(info, io.BytesIO(data))
        self.manifest.members[name] = hashlib.sha256(data).hexdigest()


def _main_db(engine: Engine) -> Path | None:
    if engine.dialect.name != "sqlite" or not engine.url.database:
        return None
    return Path(engine.url.database).resolve()


def create_backup(
    settings: ServerConfig,
    engine: Engine,
    sessions: sessionmaker[Session],
    out_path: Path,
    passphrase: SecretStr,
    *,
    kdf: KdfParams | None = None,
    progress: Progress | None = None,
) -> BackupReport:
    """Write an encrypted archive of every table and the data files to ``out_path``."""
    load_all_models()
    created = utc_text(datetime.now(UTC))
    header = ArchiveHeader(new_id("bak"), created, settings.site_id, kdf or KdfParams())
    manifest = Manifest(header.backup_id, settings.site_id, created, ",".join(current_heads()), __version__)
    tmp_path = out_path.with_name(out_path.name + ".partial")
    fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as raw:
        aad = write_header(raw, header)
        writer = EncryptingWriter(raw, _key(passphrase, header.kdf), aad)
        tar = _Tar(writer, manifest)  # type: ignore[arg-type]
        # One read transaction: every table from the same moment (PostgreSQL snapshot;
        # SQLite holds its read lock for the duration).
        with sessions() as session, session.begin():
            if engine.dialect.name == "postgresql":
                session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
            for table in Base.metadata.sorted_tables:
                if progress:
                    progress(f"table {table.name}")
                count, part, buffer = 0, 0, bytearray()
                order = list(table.primary_key.columns) or list(table.c)
                for row in session.execute(select(table).order_by(*order)).mappings().yield_per(5000):
                    buffer += encode_row(dict(row))
                    count += 1
                    if count % ROWS_PER_PART == 0:
                        tar.add(f"tables/{table.name}/{part:05d}.jsonl", bytes(buffer))
                        part, buffer = part + 1, bytearray()
                if buffer or part == 0:
                    tar.add(f"tables/{table.name}/{part:05d}.jsonl", bytes(buffer))
                manifest.tables[table.name] = count
        for name, path in _data_files(settings, _main_db(engine)):
            if progress:
                progress(f"file {name}")
            tar.add(f"files/{name}", _snapshot(path))
            manifest.files.append(name)
        body = json.dumps(manifest.__dict__, sort_keys=True, indent=1).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size, info.mode = len(body), 0o600
        tar.tar.addfile(info, io.BytesIO(body))
        tar.tar.close()
        writer.close()
        raw.flush()
        os.fsync(raw.fileno())
    tmp_path.replace(out_path)
    digest = hashlib.sha256()
    with out_path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return BackupReport(
        header.backup_id,
        digest.hexdigest(),
        len(manifest.tables),
        sum(manifest.tables.values()),
        len(manifest.files),
    )


def _safe_member(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return bool(parts) and not name.startswith("/") and ".." not in parts and parts[0] in {"tables", "files"}


def _read_archive(
    path: Path, passphrase: SecretStr, on_member: Callable[[str, bytes], None] | None = None
) -> tuple[ArchiveHeader, Manifest]:
    """Read and check everything; call ``on_member`` with each authenticated member."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        msg = f"cannot read backup {path} ({exc.strerror})"
        raise IntegrityError(msg) from None
    with handle:
        header, aad = read_header(handle, source=str(path))
        reader = DecryptingReader(handle, _key(passphrase, header.kdf), aad)
        seen: dict[str, str] = {}
        manifest_doc: Any = None
        try:
            with tarfile.open(fileobj=reader, mode="r|") as tar:
                for info in tar:
                    if not info.isfile():
                        msg = f"{path}: unexpected archive member {info.name!r} (not a file)"
                        raise IntegrityError(msg)
                    extracted = tar.extractfile(info)
                    data = extracted.read() if extracted is not None else b""
                    if info.name == "manifest.json":
                        manifest_doc = json.loads(data)
                        continue
                    if not _safe_member(info.name) or info.name in seen or manifest_doc is not None:
                        msg = f"{path}: unexpected archive member {info.name!r}"
                        raise IntegrityError(msg)
                    seen[info.name] = hashlib.sha256(data).hexdigest()
                    if on_member is not None:
                        on_member(info.name, data)
        except tarfile.TarError as exc:
            msg = f"{path}: the archive inside the backup is damaged ({exc})"
            raise IntegrityError(msg) from None
        except CryptoError as exc:
            msg = f"{path}: {exc.message} (or the backup passphrase is wrong)"
            raise IntegrityError(msg) from None
        reader.drain()  # authenticate up to the final chunk, trailing padding included
    if not isinstance(manifest_doc, dict):
        msg = f"{path}: the archive has no manifest"
        raise IntegrityError(msg)
    manifest = Manifest(**manifest_doc)
    if manifest.backup_id != header.backup_id:
        msg = f"{path}: manifest is for backup {manifest.backup_id}, the header says {header.backup_id}"
        raise IntegrityError(msg)
    if manifest.members != seen:
        bad = sorted(k for k in set(seen) | set(manifest.members) if seen.get(k) != manifest.members.get(k))
        msg = f"{path}: {len(bad)} member(s) do not match the manifest: {', '.join(bad[:5])}"
        raise IntegrityError(msg)
    return header, manifest


def verify_backup(path: Path, passphrase: SecretStr) -> Manifest:
    """Authenticate and check the whole archive without writing anything; its manifest."""
    counts: dict[str, int] = {}

    def count(name: str, data: bytes) -> None:
        if name.startswith("tables/"):
            table = name.split("/")[1]
            counts[table] = counts.get(table, 0) + data.count(b"\n")

    _, manifest = _read_archive(path, passphrase, count)
    if counts != manifest.tables:
        msg = f"{path}: row counts do not match the manifest"
        raise IntegrityError(msg)
    return manifest


def _assert_empty(session: Session) -> None:
    for table in Base.metadata.sorted_tables:
        if table.name in _SEEDED:
            continue
        if session.scalar(select(func.count()).select_from(table)):
            msg = (
                f"the target database is not empty (table {table.name} has rows); restore needs an empty one"
            )
            raise ConflictError(msg)


def restore_backup(
    settings: ServerConfig,
    engine: Engine,
    sessions: sessionmaker[Session],
    path: Path,
    passphrase: SecretStr,
    *,
    progress: Progress | None = None,
) -> Manifest:
    """Restore ``path`` into an empty database and ``data_dir``; nothing is written unless all pass."""
    from lineguard.server.storage import upgrade_to_head

    manifest = verify_backup(path, passphrase)  # pass 1: nothing written
    expected = ",".join(current_heads())
    if manifest.alembic_revision != expected:
        msg = (
            f"backup was made at schema revision {manifest.alembic_revision}, this LineGuard is at "
            f"{expected}: "
            "restore it with the version that made it, then upgrade"
        )
        raise ConflictError(msg)
    for name in manifest.files:
        if (settings.data_dir / name).exists():
            msg = f"{settings.data_dir / name} already exists; restore needs an empty data_dir"
            raise ConflictError(msg)
    upgrade_to_head(engine)
    tables = {t.name: t for t in Base.metadata.sorted_tables}
    files: dict[str, bytes] = {}
    with sessions.begin() as session:
        _assert_empty(session)
        for name in _SEEDED & set(tables):
            session.execute(tables[name].delete())

        def load(member: str, data: bytes) -> None:
            kind, rest = member.split("/", 1)
            if kind == "files":
                files[rest] = data
                return
            table_name = rest.split("/")[0]
            table = tables.get(table_name)
            if table is None:
                msg = f"{path}: table {table_name} does not exist in this schema"
                raise IntegrityError(msg)
            if progress:
                progress(f"table {table_name}")
            rows = [decode_row(table, line, where=member) for line in data.splitlines() if line]
            if rows:
                session.execute(insert(table), rows)

        _read_archive(path, passphrase, load)  # pass 2: authenticated again while loading
        if engine.dialect.name == "postgresql":
            _reset_sequences(session)
    for name, data in files.items():  # after the database committed
        atomic_write(settings.data_dir / name, data)
    return manifest


def _reset_sequences(session: Session) -> None:
    """Inserted explicit ids leave PostgreSQL sequences behind: move each past its maximum."""
    for table in Base.metadata.sorted_tables:
        for column in table.primary_key.columns:
            if not isinstance(column.type, Integer):
                continue
            seq = session.scalar(
                text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": column.name}
            )
            if seq:
                # Names come from our own metadata, never from input.
                top = f'SELECT MAX("{column.name}") FROM "{table.name}"'  # noqa: S608
                query = f"SELECT setval(:s, COALESCE(({top}), 0) + 1, false)"
                session.execute(text(query), {"s": seq})
