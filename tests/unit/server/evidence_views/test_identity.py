"""A replica's id is kept across restarts, claimed by one live process, and revocation follows it.

The claims are real session advisory locks on a real PostgreSQL (two :class:`Leadership`
objects stand for two processes, each with its own connection); the restart of a whole
replica process is in tests/integration/test_evidence_relay_replicas.py.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session

from lineguard.contracts.audit import AuditEvent
from lineguard.contracts.errors import InputError, NotFoundError
from lineguard.contracts.evidence_view import ReplicaRevokedError
from lineguard.server.evidence_views.identity import (
    REPLICA_ID_ENV,
    ReplicaIdInUseError,
    claim_name,
    claim_process_id,
    replica_id_file,
    replica_of,
    resolve_replica_id,
)
from lineguard.server.evidence_views.revocation import (
    check_not_revoked,
    issue_unless_revoked,
    list_replicas,
    revoke_replica,
)
from lineguard.server.evidence_views.shared import SharedRelay
from lineguard.server.pki import PlantCa
from lineguard.server.storage import Leadership, create_engine_for, session_factory

on_postgresql = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


def test_the_id_is_made_once_per_host_and_read_at_every_later_start(tmp_path: Path) -> None:
    first = resolve_replica_id(tmp_path, environ={}, hostname="relay-a")
    assert first.startswith("rep_")
    assert resolve_replica_id(tmp_path, environ={}, hostname="relay-a") == first  # a restart
    # replicas sharing one data_dir volume get one id per host name
    other = resolve_replica_id(tmp_path, environ={}, hostname="relay-b")
    assert other != first
    path = replica_id_file(tmp_path, "relay-a")
    assert path.read_text().strip() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    # a host name is never a path
    assert replica_id_file(tmp_path, "../../etc/x").parent == tmp_path / "replicas"


def test_the_environment_names_the_replica_and_a_bad_value_is_refused(tmp_path: Path) -> None:
    given = resolve_replica_id(tmp_path, environ={REPLICA_ID_ENV: "relay-a_01"}, hostname="h")
    assert given == "relay-a_01"
    assert not replica_id_file(tmp_path, "h").exists()  # nothing written when the environment names it
    for bad in ("R", "Relay-A", "relay.a", "-relay", "x" * 49, "relay a", "rep/../x"):
        with pytest.raises(InputError, match=f"{REPLICA_ID_ENV} is .*expected 3-48 characters"):
            resolve_replica_id(tmp_path, environ={REPLICA_ID_ENV: bad}, hostname="h")


def test_a_damaged_id_file_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = replica_id_file(tmp_path, "relay-a")
    path.parent.mkdir(mode=0o700)
    path.write_text("Not An Id!\n")
    with pytest.raises(InputError, match=r"relay-a\.id is 'Not An Id!': expected"):
        resolve_replica_id(tmp_path, environ={}, hostname="relay-a")
    path.write_text("")
    with pytest.raises(
        InputError, match=f"is empty: remove it to make a new replica id, or set {REPLICA_ID_ENV}"
    ):
        resolve_replica_id(tmp_path, environ={}, hostname="relay-a")


@on_postgresql
def test_a_second_process_claiming_a_held_id_is_refused_until_the_first_is_gone(
    db_url: str, tmp_path: Path
) -> None:
    engine = create_engine_for(db_url)
    one, two, three = (Leadership(engine, tmp_path / name) for name in ("one", "two", "three"))
    try:
        assert claim_process_id(one, "relay-a", 1) == "relay-a"
        with pytest.raises(
            ReplicaIdInUseError, match=r"relay-a is in use: all 1 of its process slots"
        ) as caught:
            claim_process_id(two, "relay-a", 1)
        assert caught.value.code == "replica_id_in_use" and caught.value.http_status == 409
        assert claim_process_id(two, "relay-b", 1) == "relay-b"  # another id is free
        # two workers of one replica take one slot each; a third process is refused
        assert claim_process_id(three, "relay-c", 2) == "relay-c.w0"
        assert claim_process_id(one, "relay-c", 2) == "relay-c.w1"
        with pytest.raises(ReplicaIdInUseError, match="all 2 of its process slots"):
            claim_process_id(two, "relay-c", 2)
        # a host on a held id with another worker count is refused too (relay-a: 1 worker)
        with pytest.raises(ReplicaIdInUseError, match="relay-a is in use"):
            claim_process_id(three, "relay-a", 2)
        with pytest.raises(ReplicaIdInUseError, match="relay-c is in use"):  # relay-c: 2 workers
            claim_process_id(two, "relay-c", 1)
        # the first process stops (or dies: PostgreSQL drops its locks with its connection)
        one.release(claim_name("relay-a"))
        assert claim_process_id(two, "relay-a", 1) == "relay-a"
        three.release()
        assert claim_process_id(two, "relay-c", 2) == "relay-c.w0"
    finally:
        for leadership in (one, two, three):
            leadership.release()
        engine.dispose()


@on_postgresql
def test_revoking_a_replica_outlasts_its_restart_and_covers_every_worker(db_url: str, tmp_path: Path) -> None:
    engine = create_engine_for(db_url)
    sessions = session_factory(engine)
    ca = PlantCa.create(tmp_path, SecretStr("identity test passphrase"), site_id="plant-a")
    replica = resolve_replica_id(tmp_path, environ={}, hostname="relay-a")
    workers = [SharedRelay(sessions, replica_id=f"{replica}.w{k}") for k in range(2)]
    other = SharedRelay(sessions, replica_id="relay-b")
    audited: list[AuditEvent] = []

    def audit(_session: Session, event: AuditEvent, /, *, actor: str) -> None:
        audited.append(event)

    try:
        for k, worker in enumerate(workers):
            worker.heartbeat("10.0.0.1", 9443 + k)
        other.heartbeat("10.0.0.2", 9443)
        with sessions() as session:  # named by one worker's id: the whole replica goes
            event = revoke_replica(
                session,
                replica_id=f"{replica}.w1",
                reason="relay-a decommissioned",
                actor="user:it",
                audit=audit,
            )
        assert (event.replica_id, event.host) == (replica, "10.0.0.1:9443, 10.0.0.1:9444")
        assert audited == [event]
        for worker in workers:
            assert other.peer(worker.replica_id) is None
            named = rf"{replica} \(process {worker.replica_id}\) was revoked"
            with pytest.raises(ReplicaRevokedError, match=named):
                check_not_revoked(sessions, worker.replica_id)
        with sessions() as session:
            assert {r.replica_id: r.revoked for r in list_replicas(session)} == {
                f"{replica}.w0": True,
                f"{replica}.w1": True,
                "relay-b": False,
            }
        # The host is started again: same id from its data_dir, so no certificate, no start.
        restarted = resolve_replica_id(tmp_path, environ={}, hostname="relay-a")
        assert restarted == replica == replica_of(f"{restarted}.w0")
        with pytest.raises(ReplicaRevokedError, match=f"{replica} .*was revoked .* by user:it: relay-a"):
            issue_unless_revoked(sessions, ca, replica_id=f"{restarted}.w0", host="10.0.0.1", hours=1)
        check_not_revoked(sessions, "relay-b")
    finally:
        engine.dispose()


@on_postgresql
def test_a_replica_that_is_not_running_is_revoked_only_when_asked_so(db_url: str) -> None:
    engine = create_engine_for(db_url)
    sessions = session_factory(engine)
    audited: list[AuditEvent] = []

    def audit(_session: Session, event: AuditEvent, /, *, actor: str) -> None:
        audited.append(event)

    try:
        with sessions() as session:
            with pytest.raises(NotFoundError, match="not running is revoked with --not-running"):
                revoke_replica(session, replica_id="relay-z", reason="scrapped", actor="user:it", audit=audit)
            session.rollback()
            with pytest.raises(InputError, match="the replica id is 'Relay Z'"):
                revoke_replica(
                    session,
                    replica_id="Relay Z",
                    reason="typo",
                    actor="user:it",
                    audit=audit,
                    not_running=True,
                )
            session.rollback()
            event = revoke_replica(
                session,
                replica_id="relay-z",
                reason="scrapped",
                actor="user:it",
                audit=audit,
                not_running=True,
            )
        assert (event.replica_id, event.host, event.views_ended) == ("relay-z", "not running", 0)
        assert audited == [event]
        with pytest.raises(ReplicaRevokedError, match=r"relay-z \(process relay-z.w3\) was revoked"):
            check_not_revoked(sessions, "relay-z.w3")
    finally:
        engine.dispose()
