"""The test receiver judges only complete requests: a client killed mid-body is not a rejection."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable
from pathlib import Path

from lineguard.edge.outbox.receiver import LocalIngestReceiver
from lineguard.edge.outbox.transport import BATCH_PATH
from tests.unit.edge.support import PlantPki


def _client(pki: PlantPki, tmp_path: Path, port: int) -> ssl.SSLSocket:
    cert_file, key_file = pki.client_files(tmp_path, "node-1")
    ctx = ssl.create_default_context(cafile=pki.ca_file)
    ctx.load_cert_chain(cert_file, key_file)
    raw = socket.create_connection(("127.0.0.1", port), timeout=30)
    return ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def _request(body: bytes, *, declared: int) -> bytes:
    head = f"POST {BATCH_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {declared}\r\n\r\n"
    return head.encode() + body


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _receiver(tmp_path: Path) -> tuple[PlantPki, LocalIngestReceiver]:
    pki = PlantPki(tmp_path / "pki")
    receiver = LocalIngestReceiver(
        cert_file=pki.server_cert_file, key_file=pki.server_key_file, client_ca_file=pki.ca_file
    )
    receiver.start()
    return pki, receiver


def test_a_client_gone_mid_body_is_counted_aborted_not_rejected(tmp_path: Path) -> None:
    pki, receiver = _receiver(tmp_path)
    try:
        client = _client(pki, tmp_path, receiver.port)
        client.sendall(_request(b'{"node_id": "node-1", "ev', declared=500))
        client.close()  # no close_notify, like a process killed with SIGKILL
        _wait_for(lambda: receiver.aborted == 1, "the receiver to notice the abort")
        assert receiver.rejections == []
        assert receiver.bodies == []
        assert receiver.items == {}
    finally:
        receiver.stop()


def test_a_complete_malformed_body_is_still_rejected(tmp_path: Path) -> None:
    pki, receiver = _receiver(tmp_path)
    try:
        client = _client(pki, tmp_path, receiver.port)
        body = b'{"node_id": "node-1"'
        client.sendall(_request(body, declared=len(body)))
        reply = client.recv(4096)
        client.close()
        assert reply.startswith((b"HTTP/1.0 422", b"HTTP/1.1 422")), reply
        assert len(receiver.rejections) == 1
        assert "Invalid JSON" in receiver.rejections[0]
        assert receiver.aborted == 0
    finally:
        receiver.stop()
