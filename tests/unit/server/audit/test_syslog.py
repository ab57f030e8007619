"""Syslog forwarding to a real loopback UDP and TCP listener: RFC 5424 framing, resumes where it stopped."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from lineguard.contracts.audit import EvidenceAccessed, LoginFailed
from lineguard.contracts.errors import InputError
from lineguard.server.audit import record
from lineguard.server.audit.syslog import SyslogTarget, forward_new_entries


def _add(sessions: sessionmaker[Session], n: int) -> None:
    for i in range(n):
        with sessions.begin() as session:
            event = (
                LoginFailed(username="bob", reason="bad_password")
                if i == 0
                else EvidenceAccessed(evidence_ref=f"e{i}")
            )
            record(session, event, actor="user:bob")


def _body(message: bytes) -> dict[str, object]:
    """The JSON entry after ``<PRI>1 TIMESTAMP HOST APP - MSGID -``."""
    return json.loads(message.split(b" - ", 2)[2])  # type: ignore[no-any-return]


def test_udp_forwarding_resumes_after_the_last_sent_entry(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(5)
    target = SyslogTarget(f"udp://127.0.0.1:{listener.getsockname()[1]}")
    state = tmp_path / "forwarded.seq"
    _add(sessions, 3)
    with sessions() as session:
        assert forward_new_entries(session, target, state_path=state, hostname="srv1") == 3
    messages = [listener.recv(65535) for _ in range(3)]
    first = messages[0].decode()
    assert first.startswith("<108>1 ")  # facility 13 (log audit), severity 4 (a failure)
    assert " srv1 lineguard - auth.login_failed - {" in first
    assert messages[1].startswith(b"<109>1 ")
    body = _body(messages[2])
    assert body["seq"] == 3 and body["payload"]["evidence_ref"] == "e2" and len(body["entry_hash"]) == 64
    assert state.read_text().strip() == "3"

    _add(sessions, 2)
    with sessions() as session:
        assert forward_new_entries(session, target, state_path=state, hostname="srv1") == 2
    assert _body(listener.recv(65535))["seq"] == 4
    listener.close()


def test_tcp_forwarding_uses_octet_counting(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    received = bytearray()

    def accept() -> None:
        conn, _ = server.accept()
        with conn:
            while chunk := conn.recv(65535):
                received.extend(chunk)

    thread = threading.Thread(target=accept)
    thread.start()
    _add(sessions, 2)
    with sessions() as session:
        forward_new_entries(
            session,
            SyslogTarget(f"tcp://127.0.0.1:{server.getsockname()[1]}"),
            state_path=tmp_path / "s",
            hostname="h",
        )
    thread.join(10)
    server.close()
    length, rest = bytes(received).split(b" ", 1)
    assert rest[: int(length)].startswith(b"<108>1 ") and rest[int(length) :].split(b" ", 1)[1].startswith(
        b"<109>1 "
    )


@pytest.mark.parametrize("url", ["syslog://x:1", "udp://:514", "tcp://host"])
def test_bad_targets_are_refused(url: str) -> None:
    with pytest.raises(InputError, match="syslog target"):
        SyslogTarget(url)


def test_unreachable_tcp_target_is_a_clear_error(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    _add(sessions, 1)
    with sessions() as session, pytest.raises(InputError, match="cannot send to syslog"):
        forward_new_entries(
            session, SyslogTarget(f"tcp://127.0.0.1:{port}"), state_path=tmp_path / "s", hostname="h"
        )
    assert not (tmp_path / "s").exists()  # nothing marked as sent
