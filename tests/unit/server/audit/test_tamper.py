"""Each kind of tampering is detected and located: edit, delete, insert, reorder, truncate.

On an exported file (verified with only the public key) and on the live database.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import delete, update
from sqlalchemy.orm import Session, sessionmaker

from lineguard.contracts.errors import AuditChainError, IntegrityError, SignatureError
from lineguard.server.audit import (
    AuditSigner,
    DatabaseLog,
    Ed25519Verifier,
    ExportedLog,
    entry_hash,
    read_checkpoints,
)
from lineguard.server.audit.models import AuditChainHead, AuditCheckpointRow, AuditEntryRow
from tests.unit.server.audit.conftest import SITE, export_to, fill


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _write(path: Path, lines: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _entry_index(lines: list[dict[str, object]], seq: int) -> int:
    return next(i for i, line in enumerate(lines) if line.get("type") == "entry" and line["seq"] == seq)


def _rehash(entry: dict[str, object]) -> None:
    payload = json.dumps(entry["payload"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    entry["entry_hash"] = entry_hash(
        seq=entry["seq"],
        event_id=entry["event_id"],
        recorded_at=entry["recorded_at"],  # type: ignore[arg-type]
        name=entry["name"],
        actor=entry["actor"],
        outcome=entry["outcome"],
        payload=payload,  # type: ignore[arg-type]
        prev_hash=entry["prev_hash"],  # type: ignore[arg-type]
    )


@pytest.fixture
def export(filled: sessionmaker[Session], signer: AuditSigner, tmp_path: Path) -> Path:
    return export_to(filled, signer, tmp_path / "audit.jsonl")


def _verify_file(path: Path, signer: AuditSigner, trusted: Path | None = None) -> object:
    extra = read_checkpoints(trusted) if trusted else []
    return Ed25519Verifier(signer.public).verify(ExportedLog(path), trusted_checkpoints=extra)


def test_intact_export_verifies(export: Path, signer: AuditSigner) -> None:
    report = _verify_file(export, signer)
    assert (report.entries, report.first_seq, report.last_seq, report.checkpoints) == (30, 1, 30, 3)  # type: ignore[attr-defined]


def test_edited_entry_is_located(export: Path, signer: AuditSigner) -> None:
    lines = _lines(export)
    lines[_entry_index(lines, 17)]["actor"] = "user:mallory"
    with pytest.raises(AuditChainError, match="entry 17 was altered"):
        _verify_file(_write(export, lines), signer)


def test_edited_and_rehashed_history_fails_at_the_next_checkpoint(export: Path, signer: AuditSigner) -> None:
    lines = _lines(export)
    for seq in range(17, 31):  # rewrite 17 and re-chain everything after it
        entry = lines[_entry_index(lines, seq)]
        if seq == 17:
            entry["payload"] = {**entry["payload"], "username": "someone-else"}  # type: ignore[dict-item]
        else:
            entry["prev_hash"] = lines[_entry_index(lines, seq - 1)]["entry_hash"]
        _rehash(entry)
    with pytest.raises(
        AuditChainError, match=r"checkpoint at seq 20 .* between seq 11 and 20 were rewritten"
    ):
        _verify_file(_write(export, lines), signer)


def test_deleted_entry_is_located(export: Path, signer: AuditSigner) -> None:
    lines = _lines(export)
    del lines[_entry_index(lines, 12)]
    with pytest.raises(AuditChainError, match="entry seq 12 is missing"):
        _verify_file(_write(export, lines), signer)


def test_reordered_entries_are_located(export: Path, signer: AuditSigner) -> None:
    lines = _lines(export)
    a, b = _entry_index(lines, 5), _entry_index(lines, 6)
    lines[a], lines[b] = lines[b], lines[a]
    with pytest.raises(AuditChainError, match="seq 5 is missing or out of order: expected it next, got 6"):
        _verify_file(_write(export, lines), signer)


def test_inserted_entry_is_located(export: Path, signer: AuditSigner) -> None:
    lines = _lines(export)
    forged = dict(lines[_entry_index(lines, 8)])
    lines.insert(_entry_index(lines, 9), forged)
    with pytest.raises(AuditChainError, match="expected seq 9, got 8"):
        _verify_file(_write(export, lines), signer)


def test_inserted_and_renumbered_entry_is_located(export: Path, signer: AuditSigner) -> None:
    lines = _lines(export)
    forged = dict(lines[_entry_index(lines, 8)], seq=9, prev_hash=lines[_entry_index(lines, 8)]["entry_hash"])
    _rehash(forged)
    at = _entry_index(lines, 9)
    for line in lines[at:]:
        if line.get("type") == "entry":
            line["seq"] = int(line["seq"]) + 1  # type: ignore[call-overload]
    lines.insert(at, forged)
    with pytest.raises(AuditChainError, match="entry 10 "):
        _verify_file(_write(export, lines), signer)


def test_truncated_tail_is_detected_by_a_checkpoint_left_behind(export: Path, signer: AuditSigner) -> None:
    lines = [line for line in _lines(export) if not (line.get("type") == "entry" and int(line["seq"]) > 25)]  # type: ignore[call-overload]
    with pytest.raises(AuditChainError, match=r"truncated: it ends at seq 25, .* up to seq 30"):
        _verify_file(_write(export, lines), signer)


def test_truncated_tail_with_its_checkpoints_is_detected_by_an_earlier_export(
    export: Path, signer: AuditSigner, tmp_path: Path
) -> None:
    kept_elsewhere = tmp_path / "earlier.jsonl"
    kept_elsewhere.write_text(export.read_text())
    lines = [
        line
        for line in _lines(export)
        if line.get("type") == "header" or int(line["seq"]) <= 20  # type: ignore[call-overload]
    ]
    _write(export, lines)
    _verify_file(export, signer)  # on its own, a clean cut at a checkpoint looks complete…
    with pytest.raises(AuditChainError, match="truncated"):
        _verify_file(export, signer, trusted=kept_elsewhere)  # …not against checkpoints kept elsewhere


def test_forged_checkpoint_signature_is_refused(export: Path, signer: AuditSigner) -> None:
    lines = _lines(export)
    cp = next(line for line in lines if line.get("type") == "checkpoint")
    other = AuditSigner.generate()
    cp["signature"] = cp["signature"][:-4] + ("AAAA" if not str(cp["signature"]).endswith("AAAA") else "BBBB")  # type: ignore[index]
    with pytest.raises(SignatureError, match="does not verify"):
        _verify_file(_write(export, lines), signer)
    with pytest.raises(SignatureError, match="names key"):
        Ed25519Verifier(other.public).verify(ExportedLog(export))


def test_no_checkpoint_is_an_error_not_a_pass(
    sessions: sessionmaker[Session], signer: AuditSigner, tmp_path: Path
) -> None:
    fill(sessions, signer, 5, checkpoint_every=100)
    with pytest.raises(AuditChainError, match="no signed checkpoint"):
        _verify_file(export_to(sessions, signer, tmp_path / "a.jsonl"), signer)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ('{"type": "entry"}\n', "does not start with"),
        ('{"type": "header", "format": "lineguard-audit-export", "version": 7}\n', "version 7"),
        ("not json\n", "line 1: not valid UTF-8 JSON"),
    ],
)
def test_malformed_export_is_refused_clearly(
    tmp_path: Path, signer: AuditSigner, content: str, message: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(IntegrityError, match=message):
        _verify_file(path, signer)


# -- the live database -------------------------------------------------------------


def _verify_db(sessions: sessionmaker[Session], signer: AuditSigner, trusted: Path | None = None) -> object:
    extra = read_checkpoints(trusted) if trusted else []
    with sessions() as session:
        return Ed25519Verifier(signer.public).verify(
            DatabaseLog(session, site_id=SITE), trusted_checkpoints=extra
        )


def test_database_edit_is_located(filled: sessionmaker[Session], signer: AuditSigner) -> None:
    assert _verify_db(filled, signer).entries == 30  # type: ignore[attr-defined]
    with filled.begin() as session:
        session.execute(update(AuditEntryRow).where(AuditEntryRow.seq == 4).values(actor="user:mallory"))
    with pytest.raises(AuditChainError, match="entry 4 was altered"):
        _verify_db(filled, signer)


def test_database_delete_is_located(filled: sessionmaker[Session], signer: AuditSigner) -> None:
    with filled.begin() as session:
        session.execute(delete(AuditEntryRow).where(AuditEntryRow.seq == 22))
    with pytest.raises(AuditChainError, match="entry seq 22 is missing"):
        _verify_db(filled, signer)


def test_database_tail_cut_and_head_rewound_is_caught_by_exported_checkpoints(
    filled: sessionmaker[Session], signer: AuditSigner, tmp_path: Path
) -> None:
    earlier = export_to(filled, signer, tmp_path / "earlier.jsonl")
    with filled.begin() as session:  # an insider with database access covers their tracks
        session.execute(delete(AuditEntryRow).where(AuditEntryRow.seq > 20))
        session.execute(delete(AuditCheckpointRow).where(AuditCheckpointRow.seq > 20))
        session.execute(
            update(AuditChainHead).values(seq=20, entry_hash=session.get(AuditEntryRow, 20).entry_hash)
        )  # type: ignore[union-attr]
    with pytest.raises(AuditChainError, match="truncated: it ends at seq 20"):
        _verify_db(filled, signer, trusted=earlier)


def test_database_tail_cut_and_head_rewound_is_caught_by_a_checkpoint_left_behind(
    filled: sessionmaker[Session], signer: AuditSigner
) -> None:
    with filled.begin() as session:  # the head rewound, but a checkpoint beyond it forgotten
        session.execute(delete(AuditEntryRow).where(AuditEntryRow.seq > 20))
        session.execute(
            update(AuditChainHead).values(seq=20, entry_hash=session.get(AuditEntryRow, 20).entry_hash)
        )  # type: ignore[union-attr]
    with pytest.raises(AuditChainError, match=r"truncated: it ends at seq 20, .* up to seq \d+"):
        _verify_db(filled, signer)


def test_database_tail_cut_without_fixing_the_head_is_caught(
    filled: sessionmaker[Session], signer: AuditSigner
) -> None:
    with filled.begin() as session:
        session.execute(delete(AuditEntryRow).where(AuditEntryRow.seq > 20))
        session.execute(delete(AuditCheckpointRow).where(AuditCheckpointRow.seq > 20))
    with pytest.raises(AuditChainError, match="chain head says 30"):
        _verify_db(filled, signer)
