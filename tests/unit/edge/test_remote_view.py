"""The node's remote-view worker against a fake server (httpx.MockTransport): what it posts
for each request, how it backs off, and that a renewal does not orphan older evidence.

Each test drives ``step()`` directly in the test's thread: no threads, no sleeping (the
backoff waits on the stop event, which the tests set first).
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from lineguard.contracts.evidence_view import EvidenceRefusal, EvidenceUpload, EvidenceViewRequest
from lineguard.edge.evidence import EvidenceStore
from lineguard.edge.evidence.remote_view import REQUESTS_PATH, HourlyLimit, RemoteViewWorker, build_reply
from tests.support.evidence_node import evidence_image
from tests.unit.edge.support import PlantPki, evidence_store


def _store(data_dir: Path) -> EvidenceStore:
    return evidence_store(data_dir)


def _put(store: EvidenceStore) -> str:
    return store.put(
        evidence_image(),
        category="fail",
        camera_id="cam-1",
        event_id="evt_1",
        captured_at=datetime.now(UTC),
        redaction="blur:fake:0",
    ).evidence_id


def _request(evidence_ref: str) -> EvidenceViewRequest:
    return EvidenceViewRequest(
        request_id="evq_1",
        evidence_ref=evidence_ref,
        event_id="evt_1",
        camera_id="cam-1",
        expires_at=datetime.now(UTC) + timedelta(seconds=30),
    )


class FakeServer:
    """Answers polls from a script of responses and records every answer the node posts."""

    def __init__(self, polls: list[httpx.Response]) -> None:
        self.polls = polls
        self.posted: list[tuple[str, dict[str, object]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path == REQUESTS_PATH:
            assert request.url.params["wait"] == "10.0"
            return self.polls.pop(0)
        self.posted.append((request.url.path, json.loads(request.content)))
        return httpx.Response(204)


def _worker(
    store: EvidenceStore, server: FakeServer, stop: threading.Event, per_hour: int = 5
) -> RemoteViewWorker:
    worker = RemoteViewWorker(
        stop,
        store=store,
        client_factory=lambda: httpx.Client(base_url="https://server", transport=httpx.MockTransport(server)),
        per_hour=per_hour,
    )
    worker.setup()
    return worker


@pytest.fixture
def enrolled(tmp_path: Path) -> Iterator[EvidenceStore]:
    PlantPki(tmp_path / "pki").enroll(tmp_path / "node", "node-1", "https://server")
    store = _store(tmp_path / "node")
    yield store
    store.close()


def _requests(*refs: str) -> httpx.Response:
    body = {"requests": [json.loads(_request(ref).model_dump_json()) for ref in refs]}
    return httpx.Response(200, json=body)


def test_each_request_gets_the_signed_image_or_a_refusal(enrolled: EvidenceStore) -> None:
    held = _put(enrolled)
    server = FakeServer([_requests(held, "evd_gone")])
    worker = _worker(enrolled, server, threading.Event())
    worker.step()
    assert [path for path, _ in server.posted] == [f"{REQUESTS_PATH}/evq_1", f"{REQUESTS_PATH}/evq_1"]
    upload = EvidenceUpload.model_validate(server.posted[0][1])
    assert base64.b64decode(upload.image_jpeg_b64) == enrolled.read(held)
    assert upload.signer_certificate_pem and "BEGIN CERTIFICATE" in upload.signer_certificate_pem
    assert upload.statement.evidence_id == held and upload.statement.node_id == "node-1"
    refusal = EvidenceRefusal.model_validate(server.posted[1][1])
    assert refusal.reason == "not_held"
    assert (worker.uploaded, worker.refused, worker.polls) == (1, 1, 1)
    worker.teardown()


def test_the_certificate_of_an_older_key_is_kept_across_a_renewal(tmp_path: Path) -> None:
    pki = PlantPki(tmp_path / "pki")
    pki.enroll(tmp_path / "node", "node-1", "https://server")
    store = _store(tmp_path / "node")
    old = _put(store)
    store.close()
    pki.enroll(tmp_path / "node", "node-1", "https://server")  # a new key and certificate
    renewed = _store(tmp_path / "node")
    reply = build_reply(renewed, _request(old), HourlyLimit(5))
    assert isinstance(reply, EvidenceUpload)
    assert reply.signer_key_id == renewed.record(old).signer_key_id != renewed.signer.key_id
    assert reply.signer_certificate_pem is not None  # the old key's, kept beside it
    renewed.close()


def test_a_node_signing_before_enrollment_vouches_for_its_key_once_enrolled(tmp_path: Path) -> None:
    early = _store(tmp_path / "node")
    assert early.signer.algorithm == "ed25519"
    ref = _put(early)
    early.close()
    PlantPki(tmp_path / "pki").enroll(tmp_path / "node", "node-1", "https://server")
    store = _store(tmp_path / "node")
    reply = build_reply(store, _request(ref), HourlyLimit(5))
    assert isinstance(reply, EvidenceUpload)
    assert reply.signer_certificate_pem is None
    assert reply.signer_public_key_pem and reply.endorsement_b64
    store.close()


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(429, headers={"retry-after": "4"}),
        httpx.Response(401, json={}),
        httpx.Response(503),
        httpx.Response(200, json={"requests": "nonsense"}),
    ],
    ids=["rate-limited", "revoked", "unavailable", "malformed"],
)
def test_a_failed_poll_backs_off_and_posts_nothing(enrolled: EvidenceStore, answer: httpx.Response) -> None:
    server = FakeServer([answer])
    stop = threading.Event()
    stop.set()  # the backoff waits on the stop event: return at once
    worker = _worker(enrolled, server, stop)
    worker.step()
    assert server.posted == [] and worker.uploaded == 0
    assert worker.last_error is not None
    assert str(answer.status_code) in worker.last_error or "not a list of requests" in worker.last_error
    assert 0 < worker._backoff_s <= worker.retry_max_s
    worker.teardown()


def test_an_unreachable_server_backs_off(enrolled: EvidenceStore) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    stop = threading.Event()
    stop.set()
    worker = RemoteViewWorker(
        stop,
        store=enrolled,
        client_factory=lambda: httpx.Client(base_url="https://server", transport=httpx.MockTransport(down)),
    )
    worker.setup()
    worker.step()
    worker.step()
    assert worker.last_error is not None and "cannot reach the server" in worker.last_error
    assert worker._backoff_s == 1.0  # 0.5 then doubled
    worker.teardown()


def test_the_hourly_limit_is_a_sliding_hour() -> None:
    now = [0.0]
    limit = HourlyLimit(2, clock=lambda: now[0])
    assert limit.take() and limit.take() and not limit.take()
    now[0] = 3599.0
    assert not limit.take()
    now[0] = 3600.0
    assert limit.take()
