"""A node uploading slowly holds no pooled database connection while its body arrives.

With 200 nodes uploading at once, a route that took its connection before reading the
body made every request wait for one of the pool's connections while bytes were still
on the wire, and they timed out. Here the pool has exactly one connection: one node
stops half-way through its body (a slow uplink), and a second upload must still be
stored, then the first one finishes and is stored as well.

The slow request asks for ``Expect: 100-continue``: the server answers ``100 Continue``
when the route starts reading the body, that is after the node was authenticated, so
the test knows the slow request is parked in the body read without guessing a delay.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine, create_engine, func, select

from lineguard.config.server import ServerConfig
from lineguard.edge.identity import enroll, https_client
from lineguard.edge.identity.client import node_ssl_context
from lineguard.server.ingest.models import InspectionEventRow
from tests.unit.server.conftest import AuditTrail, running_plant
from tests.unit.server.ingest import factory

BATCH = "/api/v1/ingest/batch"


@pytest.fixture
def one_connection_engine(postgres_url: str) -> Iterator[Engine]:
    """The whole pool is one connection; a request waiting for it gives up after 5 s (a 500)."""
    engine = create_engine(
        postgres_url.replace("postgresql://", "postgresql+psycopg://", 1),
        pool_size=1,
        max_overflow=0,
        pool_timeout=5,
    )
    yield engine
    engine.dispose()


def _read_until(tls: ssl.SSLSocket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = tls.recv(4096)
        assert chunk, f"the server closed the connection; it sent {data!r}"
        data += chunk
    return data


def test_a_slow_upload_does_not_hold_the_only_connection(
    server_settings: ServerConfig, one_connection_engine: Engine, tmp_path: Path
) -> None:
    engine = one_connection_engine
    with running_plant(server_settings, engine, AuditTrail()) as plant:
        enroll(plant.url, plant.token("node-a"), tmp_path / "node")
        slow_body = json.dumps(factory.batch("node-a", [factory.event("node-a") for _ in range(3)])).encode()
        where = urlsplit(plant.url)
        assert where.hostname is not None and where.port is not None
        raw = socket.create_connection((where.hostname, where.port), timeout=20)
        with node_ssl_context(tmp_path / "node").wrap_socket(raw, server_hostname=where.hostname) as slow:
            head = (
                f"POST {BATCH} HTTP/1.1\r\nHost: {where.netloc}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(slow_body)}\r\nExpect: 100-continue\r\n\r\n"
            )
            slow.sendall(head.encode())
            _read_until(slow, b"100 Continue")  # authenticated; now reading the body
            slow.sendall(slow_body[:20])  # and the uplink stalls half-way

            assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]  # QueuePool
            with https_client(tmp_path / "node") as client:
                fast = client.post(BATCH, json=factory.batch("node-a", [factory.event("node-a")]))
            assert fast.status_code == 200, fast.text
            assert fast.json()["stored"] == 2  # the event and its part

            slow.sendall(slow_body[20:])
            response = _read_until(slow, b"}")
        status_line = response.split(b"HTTP/1.1 ")[-1]
        assert status_line.startswith(b"200"), response
        assert json.loads(response.split(b"\r\n\r\n")[-1])["stored"] == 6
        with plant.session() as session:
            assert session.scalar(select(func.count()).select_from(InspectionEventRow)) == 4
