"""The roll-up's audit log is signed like a plant's: the plant's checkpoint code, its own key.

On both engines: ``serve`` signs checkpoints on its own (and at shutdown); then someone
with write access to the roll-up's database rewrites an entry (carelessly, or
consistently with every hash and the chain head recomputed), cuts the tail off, or
swaps a checkpoint's signature, and verification with the published public key names
what happened. ``lineguard enterprise audit verify`` exits non-zero with that message.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from lineguard.cli.main import cli
from lineguard.contracts.errors import AuditChainError, SignatureError
from lineguard.crypto import utc_text
from lineguard.enterprise import Role, checkpoint, open_rollup_audit_key, public_key_file, verify_log
from lineguard.enterprise.models import AuditCheckpointRow, AuditHeadRow, AuditRow
from lineguard.enterprise.scheduled import checkpoint_now
from lineguard.server.audit import GENESIS_HASH, AuditSigner, MerkleFrontier, entry_hash, public_key_pem
from tests.support.enterprise import Rollup, make_rollup


def _verify(rollup: Rollup, pem: bytes | None = None) -> int:
    with rollup.sessions() as session:
        return verify_log(session, pem or public_key_file(rollup.config).read_bytes()).entries


def _entries(rollup: Rollup, n: int, tmp_path: Path) -> None:
    for i in range(n):
        rollup.enrol(f"plant-{i}", tmp_path / f"p{i}")


def _rewrite_consistently(session: Session, seq: int, actor: str) -> None:
    """What an insider with database write access can do: change entry ``seq`` and recompute
    every later hash, link and the chain head (frontier included), so the chain alone holds."""
    rows = list(session.scalars(select(AuditRow).order_by(AuditRow.seq)))
    prev, frontier = GENESIS_HASH, MerkleFrontier()
    for row in rows:
        if row.seq == seq:
            row.actor = actor
        row.prev_hash = prev
        row.entry_hash = entry_hash(
            seq=row.seq,
            event_id=row.event_id,
            recorded_at=utc_text(row.recorded_at),
            name=row.name,
            actor=row.actor,
            outcome=row.outcome,
            payload=row.payload,
            prev_hash=prev,
        )
        prev = row.entry_hash
        frontier.append_entry(prev)
    session.execute(
        update(AuditHeadRow)
        .where(AuditHeadRow.id == 1)
        .values(seq=rows[-1].seq, entry_hash=prev, frontier=frontier.to_json())
    )


def test_serve_signs_checkpoints_by_itself_and_at_shutdown(tmp_path: Path, db_url: str) -> None:
    rollup = make_rollup(tmp_path / "r", db_url, audit_checkpoint_interval_s=1)
    rollup.start()
    try:
        _entries(rollup, 2, tmp_path)
        deadline = time.monotonic() + 30
        while True:
            with rollup.sessions() as session:
                signed = session.scalar(
                    select(AuditCheckpointRow.seq).order_by(AuditCheckpointRow.seq.desc())
                )
            if signed == 2:
                break
            assert time.monotonic() < deadline, f"no checkpoint over seq 2 (last: {signed})"
            time.sleep(0.2)
        rollup.token(Role.AUDITOR)
        with rollup.client(token=rollup.token(Role.AUDITOR)) as auditor:
            assert auditor.get("/api/v1/plants").status_code == 200
        _entries(rollup, 1, tmp_path / "more")  # a third entry, just before shutdown
    finally:
        rollup.stop()
    with rollup.sessions() as session:
        report = verify_log(session, public_key_file(rollup.config).read_bytes())
    assert (report.entries, report.unanchored) == (3, 0)  # the shutdown checkpoint covers the last one
    rollup.engine.dispose()


def test_a_log_without_a_checkpoint_is_refused(tmp_path: Path, db_url: str) -> None:
    rollup = make_rollup(tmp_path / "r", db_url)
    _entries(rollup, 1, tmp_path)
    open_rollup_audit_key(rollup.config)  # publishes the public key
    with pytest.raises(AuditChainError, match="no signed checkpoint to verify against"):
        _verify(rollup)
    rollup.engine.dispose()


def test_a_tampered_row_is_found_even_when_every_hash_is_recomputed(tmp_path: Path, db_url: str) -> None:
    rollup = make_rollup(tmp_path / "r", db_url)
    _entries(rollup, 3, tmp_path)
    assert rollup.verify_audit() == 3
    with rollup.sessions.begin() as session:  # careless: one field changed
        session.execute(update(AuditRow).where(AuditRow.seq == 2).values(actor="cli:someone-else"))
    with pytest.raises(AuditChainError, match=r"entry 2 was altered: its content hashes to \w+, it says"):
        _verify(rollup)
    with rollup.sessions.begin() as session:  # careful: the whole chain and its head recomputed
        _rewrite_consistently(session, 2, "cli:someone-else")
    with pytest.raises(
        AuditChainError,
        match=r"signed checkpoint at seq 3 .* does not match the log: .*"
        r"entries between seq 1 and 3 were rewritten",
    ):
        _verify(rollup)
    rollup.engine.dispose()


def test_a_truncated_tail_is_found(tmp_path: Path, db_url: str) -> None:
    rollup = make_rollup(tmp_path / "r", db_url)
    _entries(rollup, 4, tmp_path)
    assert rollup.verify_audit() == 4
    truncated = (
        r"the log was truncated: it ends at seq 2, but a checkpoint signed at .* covers entries up to seq 4"
    )
    with rollup.sessions.begin() as session:  # the last two entries cut
        session.execute(delete(AuditRow).where(AuditRow.seq > 2))
    with pytest.raises(AuditChainError, match=truncated):
        _verify(rollup)
    with rollup.sessions.begin() as session:  # and the head rewound to match: the checkpoint still tells
        _rewrite_consistently(session, 0, "")
    with pytest.raises(AuditChainError, match=truncated):
        _verify(rollup)
    rollup.engine.dispose()


def test_a_swapped_or_forged_checkpoint_signature_is_found(tmp_path: Path, db_url: str) -> None:
    rollup = make_rollup(tmp_path / "r", db_url)
    _entries(rollup, 1, tmp_path)
    assert rollup.verify_audit() == 1
    _entries(rollup, 1, tmp_path / "more")
    assert rollup.verify_audit() == 2
    with rollup.sessions.begin() as session:  # swap the two checkpoints' signatures
        first, second = session.scalars(select(AuditCheckpointRow).order_by(AuditCheckpointRow.seq)).all()
        first.signature, second.signature = second.signature, first.signature
    with pytest.raises(
        SignatureError, match="checkpoint at seq 1: Ed25519 signature does not verify with key"
    ):
        _verify(rollup)

    # A checkpoint re-signed with a key of the insider's own: the published key refuses it.
    with rollup.sessions.begin() as session:
        session.execute(delete(AuditCheckpointRow))
        checkpoint(session, AuditSigner.generate())
    key_id = open_rollup_audit_key(rollup.config).key_id
    with pytest.raises(SignatureError, match=f"checkpoint at seq 2 names key \\w+, expected {key_id}"):
        _verify(rollup)
    rollup.engine.dispose()


def test_checkpoints_refuse_to_sign_over_what_serve_wrote_and_someone_rewrote(
    tmp_path: Path, db_url: str
) -> None:
    rollup = make_rollup(tmp_path / "r", db_url)
    rollup.start()  # attaches the witness: serve remembers what it appended
    try:
        _entries(rollup, 2, tmp_path)
        with rollup.sessions.begin() as session:
            _rewrite_consistently(session, 1, "cli:someone-else")
        with pytest.raises(AuditChainError, match="refusing to sign a checkpoint: entry 1 was rewritten"):
            checkpoint_now(rollup.sessions, open_rollup_audit_key(rollup.config))
    finally:
        rollup.stop()  # its shutdown checkpoint refuses too (logged), so nothing is ever signed
    with rollup.sessions() as session:
        assert session.scalars(select(AuditCheckpointRow)).all() == []
    rollup.engine.dispose()


def test_the_verify_command_reports_a_swapped_signature_and_exits_non_zero(tmp_path: Path) -> None:
    rollup = make_rollup(tmp_path / "r", f"sqlite:///{tmp_path / 'rollup.db'}")
    config = tmp_path / "enterprise.yaml"
    config.write_text(rollup.config.model_dump_json(), encoding="utf-8")  # JSON is YAML
    _entries(rollup, 2, tmp_path)
    rollup.verify_audit()
    ok = CliRunner().invoke(cli, ["enterprise", "audit", "verify", "--config", str(config)])
    assert ok.exit_code == 0, ok.output
    assert "ok: 2 entries (seq 1-2), 1 signed checkpoints, last at seq 2" in ok.stdout
    elsewhere = tmp_path / "kept-elsewhere.pub.pem"
    elsewhere.write_bytes(public_key_pem(AuditSigner.generate().public))  # not the roll-up's key
    wrong = CliRunner().invoke(
        cli, ["enterprise", "audit", "verify", "--config", str(config), "--public-key", str(elsewhere)]
    )
    assert wrong.exit_code != 0
    assert "checkpoint at seq 2 names key" in wrong.output
    with rollup.sessions.begin() as session:
        row = session.scalars(select(AuditCheckpointRow)).one()
        row.signature = row.signature[::-1]
    broken = CliRunner().invoke(cli, ["enterprise", "audit", "verify", "--config", str(config)])
    assert broken.exit_code != 0
    assert "checkpoint at seq 2: Ed25519 signature does not verify" in broken.output
    rollup.engine.dispose()
