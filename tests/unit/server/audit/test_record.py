"""The choke point: typed events in, a linear chain out, even with concurrent writers on both engines."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lineguard.contracts.audit import AUDIT_EVENTS, AuditEvent, IngestBatchAccepted, KeysRotated, LoginFailed
from lineguard.contracts.errors import ContractError, InputError
from lineguard.server.audit import (
    AuditRecorder,
    AuditSigner,
    DatabaseLog,
    Ed25519Verifier,
    create_checkpoint,
    record,
)
from lineguard.server.audit.models import AuditEntryRow
from lineguard.server.audit.records import Entry
from tests.unit.server.audit.conftest import SITE, fill


def _entries(sessions: sessionmaker[Session]) -> list[AuditEntryRow]:
    with sessions() as session:
        return list(session.scalars(select(AuditEntryRow).order_by(AuditEntryRow.seq)))


def test_record_links_each_entry_to_the_previous(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        first = record(
            session,
            LoginFailed(username="bob", reason="bad_password", source_ip="10.1.1.1"),
            actor="user:bob",
        )
        second = record(
            session, KeysRotated(old_kek_id="kek_a", new_kek_id="kek_b", rewrapped=3), actor="cli:keys"
        )
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == "0" * 64
    assert second.prev_hash == first.entry_hash
    rows = _entries(sessions)
    assert [r.name for r in rows] == ["auth.login_failed", "keys.rotated"]
    assert rows[0].outcome == "failure"
    assert '"source_ip":"10.1.1.1"' in rows[0].payload


def test_rolled_back_transaction_leaves_no_entry_and_no_gap(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        record(session, KeysRotated(old_kek_id="a", new_kek_id="b", rewrapped=0), actor="cli:keys")
        session.rollback()
    with sessions.begin() as session:
        row = record(session, KeysRotated(old_kek_id="a", new_kek_id="b", rewrapped=0), actor="cli:keys")
    assert row.seq == 1


@pytest.mark.parametrize("actor", ["alice", "user:", "root:x", "user:a b", "user:" + "x" * 200])
def test_actor_must_be_kind_and_name(sessions: sessionmaker[Session], actor: str) -> None:
    with sessions() as session, pytest.raises(InputError, match="audit actor"):
        record(session, KeysRotated(old_kek_id="a", new_kek_id="b", rewrapped=0), actor=actor)


def test_abstract_event_refused(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, pytest.raises(InputError, match="not a concrete audit event"):
        record(session, AuditEvent(), actor="cli:x")


def test_recorder_takes_typed_events_only(sessions: sessionmaker[Session]) -> None:
    hook = AuditRecorder()
    with sessions.begin() as session:
        hook(session, IngestBatchAccepted(node_id="n1", batch_id="b1", events=100), actor="node:n1")
        with pytest.raises(ContractError, match="audit events are typed"):
            hook(session, "ingest.batch_accepted", actor="node:n1")  # type: ignore[arg-type]
    with pytest.raises(ValidationError) as err:  # a malformed event never gets built
        IngestBatchAccepted(node_id="n1", events=-1)  # type: ignore[call-arg]
    assert {str(e["loc"][0]) for e in err.value.errors()} == {"batch_id", "events"}
    assert [r.name for r in _entries(sessions)] == ["ingest.batch_accepted"]
    with sessions.begin() as session:
        AuditRecorder(enabled=False)(
            session, IngestBatchAccepted(node_id="n1", batch_id="b2", events=1), actor="node:n1"
        )
    assert len(_entries(sessions)) == 1


def test_every_event_type_has_a_name_and_forbids_unknown_fields() -> None:
    assert len(AUDIT_EVENTS) >= 40
    for name, cls in AUDIT_EVENTS.items():
        assert name == cls.event_name and "." in name
        assert cls.model_config.get("extra") == "forbid"
        for field in cls.model_fields.values():
            assert field.annotation is not float, f"{name}: floats have no canonical form"


def test_concurrent_writers_never_fork_the_chain(
    sessions: sessionmaker[Session], signer: AuditSigner
) -> None:
    """Eight threads append at once on SQLite and PostgreSQL; the result is one linear chain."""
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            for i in range(15):
                with sessions.begin() as session:
                    record(
                        session,
                        KeysRotated(old_kek_id=f"t{k}", new_kek_id=f"i{i}", rewrapped=i),
                        actor=f"cli:t{k}",
                    )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = _entries(sessions)
    assert [r.seq for r in rows] == list(range(1, 121))
    with sessions.begin() as session:
        create_checkpoint(session, signer, site_id=SITE)
    with sessions() as session:
        report = Ed25519Verifier(signer.public).verify(DatabaseLog(session, site_id=SITE))
    assert (report.entries, report.last_checkpoint_seq) == (120, 120)


def test_entries_recorded_while_verifying_are_not_a_false_tamper_alarm(
    filled: sessionmaker[Session], signer: AuditSigner
) -> None:
    """A live server keeps auditing while someone verifies; the verifier checks a snapshot."""

    class WritesWhileReading(DatabaseLog):
        def entries(self) -> Iterator[Entry]:
            yield from super().entries()
            fill(filled, signer, 5, checkpoint_every=5)  # another request is audited meanwhile

    with filled() as session:
        report = Ed25519Verifier(signer.public).verify(WritesWhileReading(session, site_id=SITE))
    assert (report.entries, report.last_seq) == (30, 30)
    with filled() as session:
        assert Ed25519Verifier(signer.public).verify(DatabaseLog(session, site_id=SITE)).entries == 35
