"""Syslog forwarding to a real loopback UDP, TCP and TLS listener: RFC 5424 messages, octet
counting (RFC 6587 / RFC 5425), resumes where it stopped, only through the egress gate."""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
import threading
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.egress import EgressConfig, EgressRule
from lineguard.contracts.audit import EvidenceAccessed, LoginFailed
from lineguard.contracts.errors import EgressDeniedError, InputError
from lineguard.server.audit import record
from lineguard.server.audit.syslog import SyslogTarget, forward_new_entries
from lineguard.server.egress import EgressGate
from tests.support.test_pki import TestCa


def _gate(scheme: str, port: int, host: str = "127.0.0.1", ca: Path | None = None) -> EgressGate:
    rule = EgressRule(scheme=scheme, host=host, port=port, ca_file=ca)  # type: ignore[arg-type]
    return EgressGate(EgressConfig(allow=[rule]), resolver=lambda h, p: [ipaddress.ip_address("127.0.0.1")])


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
    port = listener.getsockname()[1]
    target = SyslogTarget(f"udp://127.0.0.1:{port}", _gate("syslog+udp", port))
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
            SyslogTarget(
                f"tcp://127.0.0.1:{server.getsockname()[1]}", _gate("syslog+tcp", server.getsockname()[1])
            ),
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
        SyslogTarget(url, _gate("syslog+tcp", 514))


def test_unreachable_tcp_target_is_a_clear_error(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    _add(sessions, 1)
    with sessions() as session, pytest.raises(InputError, match="cannot send to syslog"):
        forward_new_entries(
            session,
            SyslogTarget(f"tcp://127.0.0.1:{port}", _gate("syslog+tcp", port)),
            state_path=tmp_path / "s",
            hostname="h",
        )
    assert not (tmp_path / "s").exists()  # nothing marked as sent


def _tls_listener(tmp_path: Path, ca: TestCa) -> tuple[socket.socket, ssl.SSLContext]:
    leaf = ca.issue(["siem.plant.test"], stem="siem")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(leaf.cert), str(leaf.key))
    server = socket.create_server(("127.0.0.1", 0))
    return server, context


def test_tls_forwarding_is_rfc5425_octet_counted_to_the_pinned_ca(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    ca = TestCa(tmp_path / "ca", "siem")
    server, context = _tls_listener(tmp_path, ca)
    received = bytearray()

    def accept() -> None:
        conn, _ = server.accept()
        with context.wrap_socket(conn, server_side=True) as tls:
            while chunk := tls.recv(65535):
                received.extend(chunk)

    thread = threading.Thread(target=accept)
    thread.start()
    _add(sessions, 60)  # many frames: the end of the batch must not be lost when the connection closes
    port = server.getsockname()[1]
    state = tmp_path / "s"
    with sessions() as session:
        sent = forward_new_entries(
            session,
            SyslogTarget(
                f"tls://siem.plant.test:{port}", _gate("syslog+tls", port, "siem.plant.test", ca.cert_path)
            ),
            state_path=state,
            hostname="h",
        )
    thread.join(10)
    server.close()
    assert sent == 60 and state.read_text().strip() == "60"
    frames, rest = [], bytes(received)
    while rest:
        length, rest = rest.split(b" ", 1)
        frames.append(rest[: int(length)])
        rest = rest[int(length) :]
    assert [_body(f)["seq"] for f in frames] == list(range(1, 61))
    assert frames[0].startswith(b"<108>1 ")


def test_tls_siem_with_a_certificate_from_another_ca_gets_nothing(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    pinned, other = TestCa(tmp_path / "pinned", "pinned"), TestCa(tmp_path / "other", "other")
    server, context = _tls_listener(tmp_path, other)
    received = bytearray()

    def accept() -> None:
        conn, _ = server.accept()
        try:
            with context.wrap_socket(conn, server_side=True) as tls:
                received.extend(tls.recv(65535))
        except (ssl.SSLError, OSError):
            return  # the client refused our certificate: the expected end

    thread = threading.Thread(target=accept)
    thread.start()
    _add(sessions, 1)
    port = server.getsockname()[1]
    target = SyslogTarget(
        f"tls://siem.plant.test:{port}", _gate("syslog+tls", port, "siem.plant.test", pinned.cert_path)
    )
    with sessions() as session, pytest.raises(InputError, match="not trusted"):
        forward_new_entries(session, target, state_path=tmp_path / "s", hostname="h")
    thread.join(10)
    server.close()
    assert received == b"" and not (tmp_path / "s").exists()


def test_a_siem_off_the_allowlist_is_refused(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    _add(sessions, 1)
    target = SyslogTarget("tcp://127.0.0.1:9", _gate("syslog+tls", 9))  # allowed: TLS only
    with sessions() as session, pytest.raises(EgressDeniedError, match="not in the egress allowlist"):
        forward_new_entries(session, target, state_path=tmp_path / "s", hostname="h")
    assert not (tmp_path / "s").exists()
