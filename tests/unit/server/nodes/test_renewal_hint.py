"""During a plant CA rotation a node on the previous CA is told to renew, and renews at once.

Real TLS, a real server following the rotation without a restart (``server/pki/live.py``),
and the node's own code: its HTTPS transport (the outbox's), the renew-now note its
client takes from the server's answer, the renewal worker, and the client picking up
the renewed certificate for its next request (``FollowingTransport``).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from lineguard.config.server import ServerConfig
from lineguard.contracts.certificates import RENEW_CERTIFICATE_HEADER, RENEW_FOR_CA_ROTATION
from lineguard.contracts.events import NodeHeartbeat
from lineguard.edge.identity import IdentityStore, NodeIdentityInfo, enroll, https_client, node_ssl_context
from lineguard.edge.identity.worker import RenewalWorker
from lineguard.edge.outbox import HttpsTransport
from lineguard.edge.outbox.transport import TransportUnavailableError
from lineguard.server.admin import load_ca, rotate_ca
from lineguard.server.storage import session_factory
from lineguard.server.tls import ServerThread
from tests.support.node_tls import NODE_ONLY_ROUTE
from tests.support.waiting import until
from tests.unit.server.conftest import issue_node_token, make_plant_ca, plant_with_ca, serving_plant
from tests.unit.server.ingest.factory import heartbeat


def _heartbeat(node_id: str = "node-a") -> NodeHeartbeat:
    return NodeHeartbeat.model_validate(heartbeat(node_id, backlog=0))


def _eventually(what: str, check: Callable[[], bool], deadline_s: float = 30.0) -> None:
    until(check, deadline_s, what=what, every_s=0.2)


@contextlib.contextmanager
def _renewing(node_dir: Path, server_url: str, *, check_in_s: float | None = None) -> Iterator[RenewalWorker]:
    """The node's renewal worker for the block, looking every 0.2 s (stopped and joined after)."""
    stop = threading.Event()
    worker = RenewalWorker(
        stop, data_dir=node_dir, server_url=server_url, check_interval_s=0.2, check_in_s=check_in_s
    )
    worker.start()
    try:
        yield worker
    finally:
        stop.set()
        worker.join(10)


@contextlib.contextmanager
def _enrolled_node(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, node_id: str
) -> Iterator[tuple[ServerConfig, ServerThread, Path]]:
    """A running server on one plant CA (it follows ``ca rotate``, no restart) and a node enrolled on it."""
    settings = plant_with_ca(tmp_path / "server", monkeypatch)
    node_dir = tmp_path / node_id
    with serving_plant(settings, engine) as server:
        with session_factory(engine)() as session:
            token = issue_node_token(session, load_ca(settings), node_id)
        enroll(server.url, token, node_dir)
        yield settings, server, node_dir


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_node_on_the_previous_ca_is_told_to_renew_and_its_transport_follows(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _enrolled_node(engine, tmp_path, monkeypatch, "node-a") as (settings, server, node_dir):
        store = IdentityStore(node_dir)

        def connect() -> httpx.Client:
            return https_client(node_dir, server.url)

        transport = HttpsTransport(connect())  # the outbox's, made once as the node does
        # the control: a client whose TLS context never reloads the node's files
        fixed = HttpsTransport(httpx.Client(base_url=server.url, verify=node_ssl_context(node_dir)))
        transport.send_heartbeat(_heartbeat())
        assert not store.renewal_requested  # one CA: nothing to say

        rotate_ca(settings)  # the running server follows (no restart)
        old_issuer = store.certificate().issuer

        def told() -> bool:
            transport.send_heartbeat(_heartbeat())  # any route: the outbox's heartbeat here
            return store.renewal_requested

        _eventually("the server tells the old-CA node to renew", told)
        assert store.renewal_request_file.read_text() == RENEW_FOR_CA_ROTATION
        with connect() as client:  # the header itself, on a node route
            answer = client.post(NODE_ONLY_ROUTE, json={"csr_pem": "-----BEGIN nothing"})
        assert answer.headers[RENEW_CERTIFICATE_HEADER] == RENEW_FOR_CA_ROTATION

        with _renewing(node_dir, server.url) as worker:
            # at once, not at 2/3 of a 7-day certificate's life
            _eventually("the node renews", lambda: worker.renewals == 1)
        assert store.certificate().issuer != old_issuer and not store.renewal_requested

        transport.send_heartbeat(_heartbeat())  # the transport presents the renewed certificate
        assert not store.renewal_requested  # and the new-CA certificate is not told to renew
        with pytest.raises(TransportUnavailableError, match="401"):
            fixed.send_heartbeat(_heartbeat())  # still presenting the superseded certificate
        transport.close()
        fixed.close()


def test_a_failed_renewal_keeps_the_certificate_and_is_tried_again_later(tmp_path: Path) -> None:
    """The server cannot be reached: the worker counts, logs and backs off; the node keeps its files."""
    from cryptography import x509

    ca = make_plant_ca(tmp_path / "server")
    node_dir = tmp_path / "node"
    store = IdentityStore(node_dir)
    key = store.generate_key()
    csr = x509.load_pem_x509_csr(store.csr_pem(key, "node-a").encode())
    issued = ca.issue_node_certificate(csr, node_id="node-a", days=7)
    info = NodeIdentityInfo("node-a", "plant-a", "line-1", ["cam-1"], "https://127.0.0.1:9")
    store.save(key=key, cert_pem=issued.pem, ca_pem=ca.trust_pem, info=info)
    before = store.credentials_file.read_bytes()
    store.request_renewal(RENEW_FOR_CA_ROTATION)
    with _renewing(node_dir, info.server_url) as worker:
        _eventually("a failed try is counted", lambda: worker.errors >= 1, 10.0)
    assert worker.renewals == 0 and store.renewal_requested  # still asked: tried again later
    assert store.credentials_file.read_bytes() == before
    assert worker.last_error is not None and "Connect" in worker.last_error


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_node_with_no_https_traffic_checks_in_and_renews_during_a_rotation(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ingest over MQTT: nothing the node sends over HTTPS would be answered with the header."""
    with _enrolled_node(engine, tmp_path, monkeypatch, "node-m") as (settings, server, node_dir):
        store = IdentityStore(node_dir)
        old_issuer = store.certificate().issuer
        rotate_ca(settings)  # the running server follows (no restart)

        with _renewing(node_dir, server.url) as quiet:
            # the control: without check-ins nothing tells the node (its certificate is young)
            _eventually("the worker without check-ins looks 10 times", lambda: quiet.looks >= 10)
            assert quiet.renewals == 0 and quiet.check_ins == 0 and not store.renewal_requested

        with _renewing(node_dir, server.url, check_in_s=0.5) as worker:
            _eventually("the checking-in node renews onto the new CA", lambda: worker.renewals == 1)
        assert worker.check_ins >= 1
        assert store.certificate().issuer != old_issuer and not store.renewal_requested


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_renew_now_note_that_cannot_be_written_does_not_fail_the_answered_request(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The node's disk is full: the server's answer still reaches the outbox (no resend loop)."""
    with _enrolled_node(engine, tmp_path, monkeypatch, "node-f") as (settings, server, node_dir):
        store = IdentityStore(node_dir)
        rotate_ca(settings)  # from now on the server answers this node with the header

        def disk_full(_store: IdentityStore, _reason: str) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(IdentityStore, "request_renewal", disk_full)
        transport = HttpsTransport(https_client(node_dir, server.url))
        caplog.set_level(logging.ERROR, logger="lineguard.edge.identity.client")

        def answered_with_the_header() -> bool:
            transport.send_heartbeat(_heartbeat("node-f"))  # raised OSError before: the answer was lost
            return "cannot note the server's request to renew now" in caplog.text

        _eventually("a heartbeat answered with the renew-now header", answered_with_the_header)
        assert "No space left on device" in caplog.text
        assert not store.renewal_requested  # nothing was written; the next answer asks again
        transport.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_credentials_that_cannot_be_loaded_keep_the_certificate_in_use_until_they_can(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with _enrolled_node(engine, tmp_path, monkeypatch, "node-g") as (_settings, server, node_dir):
        store = IdentityStore(node_dir)
        transport = HttpsTransport(https_client(node_dir, server.url))
        transport.send_heartbeat(_heartbeat("node-g"))
        good = store.credentials_file.read_bytes()
        damaged = store.credentials_file.with_name("node.pem.damaged")
        damaged.write_bytes(b"-----BEGIN PRIVATE KEY-----\nnot a key\n")
        damaged.replace(store.credentials_file)  # replaced, as a renewal would, by what cannot load
        caplog.set_level(logging.INFO, logger="lineguard.edge.identity.client")
        transport.send_heartbeat(_heartbeat("node-g"))  # served with the certificate loaded before
        assert "node credentials changed but cannot be loaded yet" in caplog.text
        restored = store.credentials_file.with_name("node.pem.restored")
        restored.write_bytes(good)
        restored.replace(store.credentials_file)
        transport.send_heartbeat(_heartbeat("node-g"))  # and the loadable file is taken up again
        assert "node credentials changed: new connections" in caplog.text
        transport.close()
