"""Fuzz the audit-export verifier: any change to what the log says is caught, nothing crashes.

A byte flipped anywhere either raises a LineGuard integrity error, or leaves every entry
and checkpoint exactly as they were (only unsigned header fields such as ``exported_at``
may change harmlessly). A field of any entry set to any other value always fails.
"""

from __future__ import annotations

import json
import tempfile
from functools import cache
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from lineguard.contracts.audit import EvidenceAccessed, LoginFailed
from lineguard.contracts.errors import IntegrityError
from lineguard.server.audit import (
    AuditSigner,
    Ed25519Verifier,
    ExportedLog,
    create_checkpoint,
    record,
    write_export,
)
from lineguard.server.storage import create_engine_for, session_factory, upgrade_to_head

_DIR = Path(tempfile.mkdtemp(prefix="lg-audit-fuzz-"))


@cache
def _export() -> tuple[bytes, AuditSigner]:
    """A 12-entry log with checkpoints at 4, 8 and 12, exported once per session."""
    signer = AuditSigner.generate()
    engine = create_engine_for(f"sqlite:///{_DIR / 'audit.db'}")
    upgrade_to_head(engine)
    sessions = session_factory(engine)
    for i in range(12):
        with sessions.begin() as session:
            event = (
                LoginFailed(username=f"u{i}", reason="bad_password", source_ip="10.0.0.1")
                if i % 3 == 0
                else EvidenceAccessed(evidence_ref=f"evd_{i}", purpose="ünïcode ✓")
            )
            record(session, event, actor=f"user:u{i}")
            if i % 4 == 3:
                create_checkpoint(session, signer, site_id="plant-a")
    path = _DIR / "export.jsonl"
    with sessions() as session, path.open("w", encoding="utf-8") as out:
        write_export(session, out, site_id="plant-a", key_id=signer.key_id)
    engine.dispose()
    return path.read_bytes(), signer


def _signed_content(data: bytes) -> list[object]:
    lines = [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
    return [line for line in lines if line.get("type") != "header"]


def _verify(data: bytes, name: str) -> None:
    path = _DIR / name
    path.write_bytes(data)
    _, signer = _export()
    Ed25519Verifier(signer.public).verify(ExportedLog(path))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_flipped_bytes_never_pass_unnoticed(data: st.DataObject) -> None:
    original, _ = _export()
    index = data.draw(st.integers(0, len(original) - 1))
    mutated = bytearray(original)
    mutated[index] ^= data.draw(st.integers(1, 255))
    try:
        _verify(bytes(mutated), "flip.jsonl")
    except IntegrityError:
        return
    assert _signed_content(bytes(mutated)) == _signed_content(original)


FIELDS = ["seq", "event_id", "recorded_at", "name", "actor", "outcome", "payload", "prev_hash", "entry_hash"]
VALUES = st.one_of(
    st.integers(-5, 20),
    st.text(max_size=20),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
    st.none(),
)


@settings(max_examples=300, deadline=None)
@given(entry=st.integers(1, 12), field=st.sampled_from(FIELDS), value=VALUES)
def test_any_changed_field_is_caught(entry: int, field: str, value: object) -> None:
    original, _ = _export()
    lines = [json.loads(line) for line in original.decode().splitlines()]
    target = next(line for line in lines if line.get("type") == "entry" and line["seq"] == entry)
    if target[field] == value:
        return
    target[field] = value
    mutated = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()
    try:
        _verify(mutated, "field.jsonl")
    except IntegrityError:
        return
    raise AssertionError(f"entry {entry}: {field} = {value!r} was not detected")


def test_export_that_is_not_utf8_is_an_integrity_error() -> None:
    original, _ = _export()
    try:
        _verify(b"\xff\xfe" + original, "bad.jsonl")
    except IntegrityError:
        return
    except UnicodeDecodeError as exc:
        raise AssertionError("a non-UTF-8 export must give a clear integrity error") from exc
