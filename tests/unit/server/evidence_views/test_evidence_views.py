"""Remote evidence views on a real app: every answer a polling browser can get, the audit
trail, single use, another person's view, and forged or tampered uploads.

The browser side goes through HTTP (the harness's TestClient, a signed-in quality
engineer); the node's side calls the service functions the mTLS routes call (a
TestClient cannot present a client certificate; ``tests/integration`` does, for real).
Time is a movable clock on the relay: nothing here sleeps.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError
from sqlalchemy import select

from lineguard.config.server import HttpConfig
from lineguard.contracts.errors import (
    ContractError,
    ImageDecodeError,
    InputError,
    IntegrityError,
    LineGuardError,
    NotFoundError,
    RateLimitedError,
    SignatureError,
)
from lineguard.contracts.events import BoundingBox, IngestBatch
from lineguard.contracts.evidence_view import (
    EvidenceRefusal,
    EvidenceStatement,
    EvidenceUpload,
    EvidenceViewRequest,
)
from lineguard.contracts.ids import new_id
from lineguard.edge.evidence.remote_view import HourlyLimit, build_reply
from lineguard.server.auth.catalog import Role
from lineguard.server.auth.dependencies import CSRF_HEADER
from lineguard.server.auth.matrix import MATRIX_LINE, MATRIX_SITE
from lineguard.server.evidence_views import service
from lineguard.server.evidence_views.relay import EvidenceRelay, RelaySettings
from lineguard.server.ingest import service as ingest
from lineguard.server.nodes.models import Node, NodeCertificate
from lineguard.server.pki import LiveCa, PlantCa
from tests.support.evidence_node import (
    EvidenceNode,
    enroll_evidence_node,
    evidence_store,
    failed_event,
    put_evidence,
)
from tests.unit.server.auth.harness import AuthHarness, Person, running_harness


@dataclass
class Clock:
    t: float = 1000.0

    def __call__(self) -> float:
        return self.t


@dataclass
class Setup:
    h: AuthHarness
    node: EvidenceNode
    other: EvidenceNode
    event_id: str
    evidence_ref: str
    quinn: Person
    csrf: str
    clock: Clock

    @property
    def relay(self) -> EvidenceRelay:
        return self.h.context.evidence_views.relay


def _ingest(s: AuthHarness, node: EvidenceNode, event: dict[str, Any]) -> None:
    body = {"node_id": node.identity.node_id, "sent_at": datetime.now(UTC).isoformat(), "events": [event]}
    with s.context.sessions() as session:
        ingest.ingest_batch(
            session,
            node=node.identity,
            batch=IngestBatch.model_validate(body),
            sealer=s.context.sealer,
            audit=s.context.audit,
        )


@pytest.fixture
def s(tmp_path: Path) -> Iterator[Setup]:
    with running_harness(f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path / "server") as h:
        ca = PlantCa.create(tmp_path / "server", SecretStr("test ca passphrase!!"), site_id=MATRIX_SITE)
        h.context.ca = LiveCa.of(ca, tmp_path / "server")
        node = enroll_evidence_node(
            h.context,
            ca,
            tmp_path / "node",
            node_id="edge-1",
            site_id=MATRIX_SITE,
            line_id=MATRIX_LINE,
            camera_ids=["cam-1"],
        )
        other = enroll_evidence_node(
            h.context,
            ca,
            tmp_path / "other",
            node_id="edge-2",
            site_id=MATRIX_SITE,
            line_id="line-2",
            camera_ids=["cam-1"],
        )
        evidence_ref = new_id("evd")
        event = failed_event(node, evidence_ref=evidence_ref)
        _ingest(h, node, event)
        put_evidence(node, evidence_id=evidence_ref, event_id=event["event_id"], camera_id="cam-1")
        clock = Clock()
        h.context.evidence_views.relay.clock = clock
        quinn = h.add_person("quinn", [Role.QUALITY_ENGINEER])
        csrf = h.sign_in(quinn)
        yield Setup(h, node, other, event["event_id"], evidence_ref, quinn, csrf, clock)
        node.store.close()
        other.store.close()


def _open(s: Setup, event_id: str | None = None) -> Any:
    return s.h.client.post(
        f"/api/v1/dashboard/records/{event_id or s.event_id}/evidence",
        json={"purpose": "customer complaint"},
        headers={CSRF_HEADER: s.csrf},
    )


def _view_url(s: Setup) -> str:
    r = _open(s)
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "pending" and body["node_id"] == "edge-1"
    return str(body["view_url"])


def _node_request(s: Setup) -> EvidenceViewRequest:
    views = s.relay.requests_now("edge-1")
    assert len(views) == 1
    return service.requests_message(views).requests[0]


def _answer(s: Setup, request: EvidenceViewRequest, reply: EvidenceUpload | EvidenceRefusal) -> None:
    with s.h.context.sessions() as session:
        service.accept_reply(
            session, context=s.h.context, node=s.node.identity, request_id=request.request_id, reply=reply
        )


def _upload(s: Setup, request: EvidenceViewRequest) -> EvidenceUpload:
    reply = build_reply(s.node.store, request, HourlyLimit(10))
    assert isinstance(reply, EvidenceUpload)
    return reply


def _outcomes(s: Setup) -> list[dict[str, Any]]:
    return s.h.trail.of("access.evidence_view")


def test_the_image_is_handed_once_to_the_person_who_asked_and_audited(s: Setup) -> None:
    url = _view_url(s)
    assert any("customer complaint" in e["purpose"] for e in s.h.trail.of("access.evidence"))
    pending = s.h.client.get(url)
    assert pending.status_code == 202 and pending.json()["status"] == "pending"
    request = _node_request(s)
    assert request.evidence_ref == s.evidence_ref and request.event_id == s.event_id
    assert s.relay.requests_now("edge-1") == []  # handed to the node once
    _answer(s, request, _upload(s, request))
    r = s.h.client.get(url)
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/jpeg"
    assert r.headers["cache-control"] == "no-store"
    assert r.content == s.node.store.read(s.evidence_ref)
    [outcome] = _outcomes(s)
    assert outcome["result"] == "delivered" and outcome["outcome"] == "success"
    assert outcome["evidence_ref"] == s.evidence_ref and outcome["node_id"] == "edge-1"
    again = s.h.client.get(url)
    assert again.status_code == 410 and again.json()["code"] == "evidence_view_gone"
    assert s.relay.held_bytes() == 0


def test_another_persons_view_is_not_found_and_the_attempt_is_audited(s: Setup) -> None:
    url = _view_url(s)
    request = _node_request(s)
    _answer(s, request, _upload(s, request))
    pat = s.h.add_person("pat", [Role.QUALITY_ENGINEER])
    s.h.sign_in(pat)
    r = s.h.client.get(url)
    assert r.status_code == 404
    denied = [e for e in s.h.trail.of("access.denied") if "evidence_view:" in e["resource"]]
    assert len(denied) == 1 and "another person" in denied[0]["reason"]
    # The image is still there for its owner, in a session of their own only.
    s.csrf = s.h.sign_in(s.quinn)
    assert s.h.client.get(url).status_code == 404  # a new session of the same person: not the same view


def test_a_silent_node_is_a_504_and_audited_once(s: Setup) -> None:
    url = _view_url(s)
    s.clock.t += s.relay.settings.node_timeout_s + 1
    r = s.h.client.get(url)
    assert r.status_code == 504 and r.json()["code"] == "node_timeout"
    assert "edge-1" in r.json()["message"]
    assert s.h.client.get(url).status_code == 504
    assert [o["result"] for o in _outcomes(s)] == ["node_timeout"]


def test_a_refusal_by_the_node_is_a_409_with_the_reason(s: Setup) -> None:
    url = _view_url(s)
    request = _node_request(s)
    s.node.store.sweep(now=datetime.now(UTC).timestamp() + 10**9)  # retention shreds it
    reply = build_reply(s.node.store, request, HourlyLimit(10))
    assert isinstance(reply, EvidenceRefusal) and reply.reason == "not_held"
    _answer(s, request, reply)
    r = s.h.client.get(url)
    assert r.status_code == 409 and r.json()["code"] == "evidence_refused"
    assert "retention" in r.json()["message"]
    assert _outcomes(s)[0]["result"] == "node_refused"


def test_the_hourly_limit_on_the_node_refuses_further_uploads(s: Setup) -> None:
    url = _view_url(s)
    request = _node_request(s)
    limit = HourlyLimit(1)
    assert limit.take()
    reply = build_reply(s.node.store, request, limit)
    assert isinstance(reply, EvidenceRefusal) and reply.reason == "rate_limited"
    _answer(s, request, reply)
    assert s.h.client.get(url).status_code == 409


def test_an_image_not_fetched_in_time_expires(s: Setup) -> None:
    url = _view_url(s)
    request = _node_request(s)
    _answer(s, request, _upload(s, request))
    s.clock.t += s.relay.settings.pickup_s + 1
    s.relay.purge()
    r = s.h.client.get(url)
    assert r.status_code == 410
    assert s.relay.held_bytes() == 0
    assert _outcomes(s)[0]["result"] == "expired"


def _tampered_image(upload: EvidenceUpload) -> EvidenceUpload:
    image = bytearray(base64.b64decode(upload.image_jpeg_b64))
    image[len(image) // 2] ^= 0x01  # inside the scan data: still a well-formed JPEG
    return upload.model_copy(update={"image_jpeg_b64": base64.b64encode(bytes(image)).decode()})


def _forged_statement(upload: EvidenceUpload) -> EvidenceUpload:
    image = base64.b64decode(_tampered_image(upload).image_jpeg_b64)
    statement = upload.statement.model_copy(update={"content_sha256": hashlib.sha256(image).hexdigest()})
    return upload.model_copy(
        update={"statement": statement, "image_jpeg_b64": base64.b64encode(image).decode()}
    )


def _not_a_jpeg(upload: EvidenceUpload) -> EvidenceUpload:
    data = b"GIF89a" + bytes(200)
    statement = upload.statement.model_copy(update={"content_sha256": hashlib.sha256(data).hexdigest()})
    return upload.model_copy(
        update={"statement": statement, "image_jpeg_b64": base64.b64encode(data).decode()}
    )


def _another_nodes_certificate(s: Setup, upload: EvidenceUpload) -> EvidenceUpload:
    pem = s.other.data_dir.joinpath("identity", "node.pem").read_text()
    cert = pem[pem.index("-----BEGIN CERTIFICATE-----") :]
    return upload.model_copy(update={"signer_certificate_pem": cert})


def _no_certificate(upload: EvidenceUpload) -> EvidenceUpload:
    return upload.model_copy(update={"signer_certificate_pem": None})


@pytest.mark.parametrize(
    ("forge", "error", "says"),
    [
        (lambda s, u: _tampered_image(u), IntegrityError, "hashes to"),
        (lambda s, u: _forged_statement(u), SignatureError, "altered"),
        (lambda s, u: _not_a_jpeg(u), ImageDecodeError, "not a JPEG"),
        (lambda s, u: _another_nodes_certificate(s, u), SignatureError, "issued to node edge-2"),
        (lambda s, u: _no_certificate(u), SignatureError, "before the node enrolled"),
        # non-ASCII text, which base64 refuses with a bare ValueError (found by the fuzz test)
        (lambda s, u: u.model_copy(update={"image_jpeg_b64": "\u0080"}), InputError, "not valid base64"),
        (lambda s, u: u.model_copy(update={"signature_b64": "é" * 8}), SignatureError, "altered"),
    ],
    ids=[
        "tampered-image",
        "forged-statement",
        "not-a-jpeg",
        "other-nodes-certificate",
        "uncertified-key",
        "non-ascii-image",
        "non-ascii-signature",
    ],
)
def test_a_forged_or_tampered_upload_is_a_502_and_nothing_is_handed_out(
    s: Setup, forge: Any, error: type[Exception], says: str
) -> None:
    url = _view_url(s)
    request = _node_request(s)
    forged = forge(s, _upload(s, request))
    with pytest.raises(error, match=says):
        _answer(s, request, forged)
    assert s.relay.held_bytes() == 0
    r = s.h.client.get(url)
    assert r.status_code == 502 and r.json()["code"] == "evidence_upload_rejected"
    assert says in r.json()["message"]
    assert r.headers["content-type"].startswith("application/json")
    assert _outcomes(s)[0]["result"] == "upload_rejected"


def test_another_node_cannot_answer_for_the_node_asked(s: Setup) -> None:
    _view_url(s)
    request = _node_request(s)
    with s.h.context.sessions() as session, pytest.raises(NotFoundError, match="no evidence request"):
        service.accept_reply(
            session,
            context=s.h.context,
            node=s.other.identity,
            request_id=request.request_id,
            reply=EvidenceRefusal(reason="not_held"),
        )


def test_a_record_without_evidence_asks_no_node(s: Setup) -> None:
    event = failed_event(s.node, evidence_ref=None)
    _ingest(s.h, s.node, event)
    r = _open(s, event["event_id"])
    assert r.status_code == 200 and r.json()["status"] == "none"
    assert s.relay.requests_now("edge-1") == []


def test_evidence_viewing_is_refused_when_the_server_runs_several_workers(s: Setup) -> None:
    """Several processes hand views over through PostgreSQL; this setup has no shared relay."""
    context = s.h.context
    context.settings = context.settings.model_copy(update={"http": HttpConfig(workers=2)})
    r = _open(s)
    assert r.status_code == 409
    assert r.json()["code"] == "evidence_view_unavailable" and "http.workers: 1" in r.json()["message"]


def test_evidence_viewing_is_refused_on_one_of_several_replicas(s: Setup) -> None:
    """The node's long poll and the person's request may land on different replicas: without the
    shared relay (PostgreSQL, tests/integration/test_evidence_relay_replicas.py) that is refused."""
    context = s.h.context
    context.settings = context.settings.model_copy(update={"http": HttpConfig(replicas=2)})
    r = _open(s)
    assert r.status_code == 409
    assert "one of 2 replicas" in r.json()["message"]


# ---- evidence signed before the node enrolled -------------------------------------------


@pytest.fixture
def early(s: Setup, tmp_path: Path) -> Iterator[tuple[EvidenceNode, str, str]]:
    """Node edge-3: evidence stored (signed by its own Ed25519 key) before it enrolled."""
    data_dir = tmp_path / "early"
    evidence_ref, event_id = new_id("evd"), new_id("evt")
    before = evidence_store(data_dir, "edge-3")
    assert before.signer.algorithm == "ed25519"
    put_evidence(before, evidence_id=evidence_ref, event_id=event_id, camera_id="cam-1")
    before.close()
    node = enroll_evidence_node(
        s.h.context,
        s.h.context.ca.get(),
        data_dir,
        node_id="edge-3",
        site_id=MATRIX_SITE,
        line_id=MATRIX_LINE,
        camera_ids=["cam-1"],
    )
    assert node.store.signer.algorithm == "ecdsa-p256-sha256"
    event = failed_event(node, evidence_ref=evidence_ref) | {"event_id": event_id}
    _ingest(s.h, node, event)
    yield node, event_id, evidence_ref
    node.store.close()


def _early_view(s: Setup, node: EvidenceNode, event_id: str) -> tuple[str, EvidenceViewRequest]:
    r = _open(s, event_id)
    assert r.status_code == 202, r.text
    [view] = s.relay.requests_now(node.identity.node_id)
    return str(r.json()["view_url"]), service.requests_message([view]).requests[0]


def _client_cert(node: EvidenceNode) -> str:
    pem = node.data_dir.joinpath("identity", "node.pem").read_text()
    return pem[pem.index("-----BEGIN CERTIFICATE-----") :]


def _answer_as(s: Setup, node: EvidenceNode, request: EvidenceViewRequest, reply: Any, cert: str) -> None:
    with s.h.context.sessions() as session:
        service.accept_reply(
            session,
            context=s.h.context,
            node=node.identity,
            request_id=request.request_id,
            reply=reply,
            client_cert_pem=cert,
        )


def test_evidence_signed_before_enrollment_is_vouched_for_by_the_enrolled_key(
    s: Setup, early: tuple[EvidenceNode, str, str]
) -> None:
    node, event_id, evidence_ref = early
    url, request = _early_view(s, node, event_id)
    reply = build_reply(node.store, request, HourlyLimit(10))
    assert isinstance(reply, EvidenceUpload)
    assert reply.signer_certificate_pem is None and reply.endorsement_b64 and reply.signer_public_key_pem
    _answer_as(s, node, request, reply, _client_cert(node))
    r = s.h.client.get(url)
    assert r.status_code == 200 and r.content == node.store.read(evidence_ref)


def test_another_nodes_key_cannot_vouch_for_a_pre_enrollment_key(
    s: Setup, early: tuple[EvidenceNode, str, str]
) -> None:
    node, event_id, _ = early
    url, request = _early_view(s, node, event_id)
    reply = build_reply(node.store, request, HourlyLimit(10))
    with pytest.raises(SignatureError, match="did not vouch"):
        _answer_as(s, node, request, reply, _client_cert(s.other))
    assert s.h.client.get(url).status_code == 502


def test_a_pre_enrollment_key_is_refused_for_evidence_captured_after_enrollment(
    s: Setup, early: tuple[EvidenceNode, str, str]
) -> None:
    node, event_id, _ = early
    with s.h.context.sessions() as session:
        row = session.get(Node, "edge-3")
        assert row is not None
        row.enrolled_at = datetime.now(UTC) - timedelta(hours=1)  # as if it had enrolled before the capture
        session.commit()
    url, request = _early_view(s, node, event_id)
    reply = build_reply(node.store, request, HourlyLimit(10))
    with pytest.raises(SignatureError, match="must be signed by a certified key"):
        _answer_as(s, node, request, reply, _client_cert(node))
    assert s.h.client.get(url).status_code == 502


def test_an_unreadable_answer_fails_the_view_at_once(s: Setup) -> None:
    url = _view_url(s)
    request = _node_request(s)
    with pytest.raises(ContractError):
        service.parse_reply(b'{"kind": "upload", "image_jpeg_b64": 1}')
    service.reject_reply(
        context=s.h.context, node=s.other.identity, request_id=request.request_id, reason="x"
    )
    assert s.h.client.get(url).status_code == 202  # another node's bad answer changes nothing
    service.reject_reply(
        context=s.h.context, node=s.node.identity, request_id=request.request_id, reason="bad"
    )
    r = s.h.client.get(url)
    assert r.status_code == 502 and "was refused: bad" in r.json()["message"]


def _supersede_certificates(s: Setup, node_id: str, at: datetime) -> None:
    """What a renewal does to the node's earlier certificates (``revoked_at`` = superseded)."""
    with s.h.context.sessions() as session:
        for row in session.scalars(select(NodeCertificate).where(NodeCertificate.node_id == node_id)):
            row.revoked_at = at
        session.commit()


def test_evidence_signed_before_a_renewal_stays_viewable(s: Setup) -> None:
    url = _view_url(s)
    request = _node_request(s)
    _supersede_certificates(s, "edge-1", datetime.now(UTC) + timedelta(minutes=10))
    _answer(s, request, _upload(s, request))
    assert s.h.client.get(url).status_code == 200


def test_a_superseded_key_cannot_sign_evidence_captured_after_the_renewal(s: Setup) -> None:
    url = _view_url(s)
    request = _node_request(s)
    _supersede_certificates(s, "edge-1", datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(SignatureError, match="outside the period"):
        _answer(s, request, _upload(s, request))
    assert s.h.client.get(url).status_code == 502


def test_two_fetches_at_once_hand_the_image_out_once(s: Setup) -> None:
    url = _view_url(s)
    request = _node_request(s)
    _answer(s, request, _upload(s, request))
    view = s.relay.get(url.rsplit("/", 1)[1])
    assert view is not None and view.state == "ready"
    assert s.relay.take_image(view) is not None  # the other request got there first
    assert s.relay.take_image(view) is None
    assert s.h.client.get(url).status_code == 410


def _crop_record(s: Setup, *, defect_hidden: bool) -> str:
    """A failed part whose evidence is a 160x120 crop at (200, 100), signed as a v2 statement."""
    evidence_ref = new_id("evd")
    event = failed_event(s.node, evidence_ref=evidence_ref)
    _ingest(s.h, s.node, event)
    region = BoundingBox(x=200, y=100, width=160, height=120)
    put_evidence(
        s.node,
        evidence_id=evidence_ref,
        event_id=event["event_id"],
        camera_id="cam-1",
        region=region,
        defect_hidden=defect_hidden,
    )
    return str(event["event_id"])


def test_the_region_shown_and_a_defect_hidden_by_redaction_reach_the_reviewer(s: Setup) -> None:
    event_id = _crop_record(s, defect_hidden=True)
    r = _open(s, event_id)
    assert r.status_code == 202, r.text
    request = _node_request(s)
    upload = _upload(s, request)
    assert upload.statement.format == "lineguard-evidence-v2" and upload.statement.defect_hidden is True
    _answer(s, request, upload)
    image = s.h.client.get(r.json()["view_url"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert image.headers["x-evidence-defect-hidden"] == "true"
    assert image.headers["x-evidence-region"] == "200,100,160,120"


def test_whole_frame_evidence_of_older_nodes_carries_no_region_or_flag(s: Setup) -> None:
    url = _view_url(s)  # the fixture's record: stored without a region (v1 statement)
    request = _node_request(s)
    _answer(s, request, _upload(s, request))
    image = s.h.client.get(url)
    assert image.status_code == 200
    assert "x-evidence-region" not in image.headers and "x-evidence-defect-hidden" not in image.headers


def test_a_node_or_relay_cannot_drop_the_defect_hidden_flag(s: Setup) -> None:
    event_id = _crop_record(s, defect_hidden=True)
    url = _open(s, event_id).json()["view_url"]
    request = _node_request(s)
    upload = _upload(s, request)
    cleared = upload.model_copy(
        update={"statement": upload.statement.model_copy(update={"defect_hidden": False})}
    )
    with pytest.raises(SignatureError, match="altered"):
        _answer(s, request, cleared)
    assert s.h.client.get(url).status_code == 502


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"format": "lineguard-evidence-v2"}, "must carry stored_region and defect_hidden"),
        ({"defect_hidden": True}, "must not carry stored_region and defect_hidden"),
    ],
)
def test_a_statement_must_carry_exactly_the_fields_of_its_format(
    s: Setup, changes: dict[str, Any], says: str
) -> None:
    _view_url(s)
    request = _node_request(s)
    fields = _upload(s, request).statement.model_dump() | changes
    with pytest.raises(ValidationError, match=says):
        EvidenceStatement.model_validate(fields)


# ---- fuzzing: view tickets from browsers, answers from nodes ---------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=8,
)


@pytest.fixture
def pending_url(s: Setup) -> str:
    return _view_url(s)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(view_id=st.text(min_size=1, max_size=140))
def test_a_fuzzed_view_ticket_is_a_typed_4xx_and_the_real_view_stays_pending(
    s: Setup, pending_url: str, view_id: str
) -> None:
    """The view id in ``/evidence-views/{id}`` is the browser's ticket: any other text is a
    typed 4xx (never a 5xx) and does not disturb the real, pending view."""
    r = s.h.client.get("/api/v1/evidence-views/" + quote(view_id, safe=""))
    assert 400 <= r.status_code < 500, (view_id, r.status_code, r.text)
    assert set(r.json()) == {"code", "message", "details"}
    assert s.h.client.get(pending_url).status_code == 202


@st.composite
def _mutated_answers(draw: st.DrawFn, genuine: dict[str, Any]) -> bytes:
    """Random bytes, or the genuine upload with one field (top level or in the statement)
    replaced, or one character of the image's base64 changed."""
    kind = draw(st.sampled_from(["bytes", "field", "statement", "image"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    body = json.loads(json.dumps(genuine))
    if kind == "field":
        body[draw(st.sampled_from(sorted(body)))] = draw(_json_values)
    elif kind == "statement":
        body["statement"][draw(st.sampled_from(sorted(body["statement"])))] = draw(_json_values)
    else:
        image = body["image_jpeg_b64"]
        at = draw(st.integers(0, len(image) - 1))
        replacement = draw(st.sampled_from("AQgw+/9"))
        assume(replacement != image[at])
        body["image_jpeg_b64"] = image[:at] + replacement + image[at + 1 :]
    return json.dumps(body).encode()


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_a_fuzzed_node_answer_is_refused_typed_and_hands_out_nothing_forged(s: Setup, data: Any) -> None:
    """What the node route does with an answer (parse, then verify and accept), on a fresh
    view per example: a typed error or the genuine image, never a forged one; a refused
    answer fails the view (the browser learns why), it never becomes an image."""
    # Fresh per example: an answer whose request id was fuzzed reaches no view, so the
    # previous example's view may still wait for its node. Past every relay deadline it
    # ends (timeout / expired), or the examples would fill the node's 8 open views and a
    # rerun of the same example would see 429: flaky, depending on the draws.
    s.clock.t += max(s.relay.settings.node_timeout_s, s.relay.settings.pickup_s) + 1
    url = _view_url(s)
    request = _node_request(s)
    genuine = _upload(s, request)
    raw = data.draw(_mutated_answers(genuine.model_dump(mode="json")))
    refused = False
    try:
        reply = service.parse_reply(raw)
    except ContractError as exc:
        service.reject_reply(context=s.h.context, node=s.node.identity, request_id=request.request_id,
                             reason=exc.message)  # fmt: skip
        refused = True
    else:
        try:
            _answer(s, request, reply)
        except LineGuardError:
            refused = True
    r = s.h.client.get(url)
    assert r.status_code < 500 or r.status_code in {502, 504}, r.text
    if r.status_code == 200:
        assert r.content == s.node.store.read(s.evidence_ref)
    else:
        assert set(r.json()) == {"code", "message", "details"}
    if refused:
        assert r.status_code != 200


def test_the_in_memory_relay_refuses_views_beyond_its_bounds() -> None:
    """One process's relay applies the same two bounds as the shared one (RelaySettings.check_room)."""
    relay = EvidenceRelay(RelaySettings(max_open_per_node=2, max_open=3))

    def open_for(node_id: str) -> None:
        relay.open(
            node_id=node_id,
            event_id=new_id("evt"),
            evidence_ref=new_id("evd"),
            camera_id="cam-1",
            user_id="usr_q",
            session_id="ses_q",
        )

    open_for("edge-1")
    open_for("edge-1")
    with pytest.raises(RateLimitedError, match="2 evidence views wait for node edge-1 \\(the limit is 2\\)"):
        open_for("edge-1")
    open_for("edge-2")
    with pytest.raises(RateLimitedError, match="3 evidence views are in progress \\(the limit is 3\\)"):
        open_for("edge-3")
