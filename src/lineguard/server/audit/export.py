"""Export the audit log as JSON lines, and read an export back for verification.

Format (``lineguard-audit-export``, version 1), one JSON object per line::

    {"type": "header", "format": "lineguard-audit-export", "version": 1, "site_id": …,
     "exported_at": …, "key_id": …, "base_seq": 0}
    {"type": "entry", "seq": 1, "event_id": …, "recorded_at": …, "name": …, "actor": …,
     "outcome": …, "payload": {…}, "prev_hash": …, "entry_hash": …}
    {"type": "checkpoint", "seq": …, "entry_hash": …, "merkle_root": …, "frontier": …,
     "created_at": …, "key_id": …, "signature": …, "site_id": …}

Checkpoints follow the entry they cover. A SIEM can ingest the entry lines as they
are; an auditor verifies the file with the published public key alone
(``lineguard audit verify FILE --public-key audit.pub.pem``). Keep exported checkpoints
somewhere the server's administrators cannot write: they are what proves a later,
shorter log was truncated.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy.orm import Session

from lineguard.contracts.errors import AuditChainError
from lineguard.crypto import utc_text
from lineguard.server.audit.records import Checkpoint, DatabaseLog, Entry

__all__ = ["EXPORT_FORMAT", "ExportedLog", "read_checkpoints", "write_export"]

EXPORT_FORMAT = "lineguard-audit-export"
EXPORT_VERSION = 1


def write_export(session: Session, out: IO[str], *, site_id: str, key_id: str) -> tuple[int, int]:
    """Write the whole kept log to ``out``; return (entries written, last checkpoint seq)."""
    log = DatabaseLog(session, site_id=site_id)
    base = log.base()
    base_seq = base.seq if base else 0
    header = {
        "type": "header",
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "site_id": site_id,
        "exported_at": utc_text(datetime.now(UTC)),
        "key_id": key_id,
        "base_seq": base_seq,
    }
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    out.write(dumps(header) + "\n")
    checkpoints = log.checkpoints()
    cp_i, count, last_cp = 0, 0, 0
    while cp_i < len(checkpoints) and checkpoints[cp_i].seq <= base_seq:
        out.write(dumps(checkpoints[cp_i].to_json()) + "\n")
        last_cp, cp_i = checkpoints[cp_i].seq, cp_i + 1
    for entry in log.entries():
        out.write(dumps(entry.to_json()) + "\n")
        count += 1
        while cp_i < len(checkpoints) and checkpoints[cp_i].seq <= entry.seq:
            out.write(dumps(checkpoints[cp_i].to_json()) + "\n")
            last_cp, cp_i = checkpoints[cp_i].seq, cp_i + 1
    for cp in checkpoints[cp_i:]:  # beyond the last entry: keep them, verification will object
        out.write(dumps(cp.to_json()) + "\n")
    return count, last_cp


_PAYLOAD = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _canonical_payload(payload: Any) -> str:
    return _PAYLOAD.encode(payload)


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        handle = path.open("rb")
    except OSError as exc:
        msg = f"cannot read audit export {path} ({exc.strerror})"
        raise AuditChainError(msg) from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                msg = f"{path} line {number}: not valid UTF-8 JSON"
                raise AuditChainError(msg) from None
            if not isinstance(obj, dict):
                msg = f"{path} line {number}: expected a JSON object"
                raise AuditChainError(msg)
            kind = obj.get("type")
            if kind not in ("entry", "checkpoint") and not (kind == "header" and number == 1):
                msg = f"{path} line {number}: unexpected line type {str(kind)[:40]!r}"
                raise AuditChainError(msg)
            yield number, obj


def _checkpoint(path: Path, number: int, obj: dict[str, Any]) -> Checkpoint:
    try:
        cp = Checkpoint(**{k: v for k, v in obj.items() if k != "type"})
    except TypeError:
        msg = f"{path} line {number}: malformed checkpoint (fields {sorted(obj)})"
        raise AuditChainError(msg) from None
    texts = ("entry_hash", "merkle_root", "frontier", "signature", "created_at", "key_id", "site_id")
    if type(cp.seq) is not int or not all(type(getattr(cp, f)) is str for f in texts):
        msg = f"{path} line {number}: malformed checkpoint field types"
        raise AuditChainError(msg)
    return cp


def read_checkpoints(path: Path) -> list[Checkpoint]:
    """Every checkpoint line of an export (e.g. an older export kept as a trust anchor)."""
    return [_checkpoint(path, n, obj) for n, obj in _lines(path) if obj.get("type") == "checkpoint"]


class ExportedLog:
    """An export file as a :class:`~lineguard.server.audit.records.LogSource`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        first = next(_lines(path), None)
        if first is None:
            msg = f"{path} is empty: not an audit export"
            raise AuditChainError(msg)
        header = first[1]
        if header.get("type") != "header" or header.get("format") != EXPORT_FORMAT:
            msg = f"{path} does not start with a {EXPORT_FORMAT} header"
            raise AuditChainError(msg)
        if header.get("version") != EXPORT_VERSION:
            msg = f"{path}: export version {header.get('version')!r} unsupported (expected {EXPORT_VERSION})"
            raise AuditChainError(msg)
        self.header = header
        self._checkpoints = read_checkpoints(path)

    def checkpoints(self) -> list[Checkpoint]:
        return list(self._checkpoints)

    def base(self) -> Checkpoint | None:
        base_seq = self.header.get("base_seq", 0)
        if not isinstance(base_seq, int) or base_seq < 0:
            msg = f"{self.path}: header base_seq must be a non-negative integer"
            raise AuditChainError(msg)
        if base_seq == 0:
            return None
        for cp in self._checkpoints:
            if cp.seq == base_seq:
                return cp
        msg = f"{self.path}: the export starts after seq {base_seq} but holds no checkpoint for it"
        raise AuditChainError(msg)

    def tail(self) -> tuple[int, str] | None:
        return None  # an export does not vouch for its own end: checkpoints do

    def entries(self) -> Iterator[Entry]:
        for number, obj in _lines(self.path):
            if obj.get("type") != "entry":
                continue
            try:
                entry: Entry | None = Entry(
                    obj["seq"],
                    obj["event_id"],
                    obj["recorded_at"],
                    obj["name"],
                    obj["actor"],
                    obj["outcome"],
                    _canonical_payload(obj["payload"]),
                    obj["prev_hash"],
                    obj["entry_hash"],
                )
            except (KeyError, TypeError, ValueError):
                entry = None
            if entry is None or not _well_typed(entry):
                msg = f"{self.path} line {number}: malformed entry (fields {sorted(obj)})"
                raise AuditChainError(msg)
            yield entry


def _well_typed(e: Entry) -> bool:
    return (
        type(e.seq) is int
        and type(e.event_id) is str
        and type(e.recorded_at) is str
        and type(e.name) is str
        and type(e.actor) is str
        and type(e.outcome) is str
        and type(e.prev_hash) is str
        and type(e.entry_hash) is str
    )
