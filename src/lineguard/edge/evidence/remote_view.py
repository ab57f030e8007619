"""Remote view: answer the plant server's requests for evidence images, outbound only.

The node never listens. With ``evidence.remote_view: true`` a :class:`RemoteViewWorker`
long-polls ``GET /api/v1/nodes/self/evidence-requests?wait=10`` over the node's mTLS
client connection. For each request it opens the stored object
(:meth:`EvidenceStore.read` decrypts it and checks its hash and signature first) and
posts the redacted JPEG with the statement signed at capture and the certificate of the
key that signed it — or, for evidence signed before the node enrolled (its own Ed25519
key, which no certificate covers), that public key and the enrolled key's signature
vouching for it. Otherwise it posts a refusal: ``not_held`` (never stored, or shredded
by retention), ``rate_limited`` (more than ``evidence.remote_view_per_hour`` uploads in
the last hour) or ``unreadable`` (the object failed the node's own check). The image is
only ever in memory on its way out.

The worker stops within one poll (``wait_s``) of the node's stop event; a failed poll
backs off (doubling, capped at ``retry_max_s``).
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import ValidationError

from lineguard.contracts.errors import CryptoError, IntegrityError, NotFoundError
from lineguard.contracts.evidence_view import (
    MAX_EVIDENCE_JPEG_BYTES,
    EvidenceRefusal,
    EvidenceStatement,
    EvidenceUpload,
    EvidenceViewRequest,
    EvidenceViewRequests,
    endorsement_statement,
)
from lineguard.crypto import canonical_json
from lineguard.edge.evidence.store import EvidenceRecord, EvidenceStore
from lineguard.edge.workers import Worker

__all__ = [
    "REQUESTS_PATH",
    "HourlyLimit",
    "RemoteViewWorker",
    "build_reply",
    "endorse_signer",
    "signer_certificate",
]

log = logging.getLogger(__name__)

REQUESTS_PATH = "/api/v1/nodes/self/evidence-requests"
_JSON = {"content-type": "application/json"}


class HourlyLimit:
    """At most ``per_hour`` uses in any sliding hour."""

    def __init__(self, per_hour: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_hour = per_hour
        self.clock = clock
        self._uses: deque[float] = deque()

    def take(self) -> bool:
        now = self.clock()
        while self._uses and now - self._uses[0] >= 3600:
            self._uses.popleft()
        if len(self._uses) >= self.per_hour:
            return False
        self._uses.append(now)
        return True


def signer_certificate(data_dir: Path, key_id: str) -> str | None:
    """The plant-CA certificate of signing key ``key_id``, if the node has one.

    ``EvidenceSigner`` keeps it beside the public key once enrolled; the node's current
    certificate serves too when it certifies that key. ``None`` for a key that signed
    before enrollment (no certificate exists for it).
    """
    kept = data_dir / "evidence" / "signers" / f"{key_id}.crt.pem"
    if kept.exists():
        return kept.read_text(encoding="ascii")
    from lineguard.edge.evidence.signer import _key_id
    from lineguard.edge.identity import IdentityStore

    identity = IdentityStore(data_dir)
    if not identity.enrolled:
        return None
    cert = identity.certificate()
    public = cert.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if _key_id(public) != key_id:
        return None
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def endorse_signer(data_dir: Path, node_id: str, key_id: str) -> tuple[str, str] | None:
    """For evidence signed before enrollment: the pre-enrollment public key and the enrolled
    key's signature vouching for it (:func:`endorsement_statement`); None if not enrolled."""
    from lineguard.edge.identity import IdentityStore

    identity = IdentityStore(data_dir)
    published = data_dir / "evidence" / "signers" / f"{key_id}.pem"
    if not identity.enrolled or not published.exists():
        return None
    public_pem = published.read_text(encoding="ascii")
    statement = endorsement_statement(node_id=node_id, key_id=key_id, public_key_pem=public_pem)
    signature = identity.load_key().sign(canonical_json(statement), ec.ECDSA(hashes.SHA256()))
    return public_pem, base64.b64encode(signature).decode("ascii")


def _statement(record: EvidenceRecord, node_id: str) -> EvidenceStatement:
    return EvidenceStatement.model_validate(record.statement_fields(node_id))


def build_reply(
    store: EvidenceStore, request: EvidenceViewRequest, limit: HourlyLimit
) -> EvidenceUpload | EvidenceRefusal:
    """The node's answer to one request (the image is read only for an upload)."""
    try:
        record = store.record(request.evidence_ref)
        content = store.read(request.evidence_ref)
    except NotFoundError as exc:
        return EvidenceRefusal(reason="not_held", message=exc.message[:500])
    except (IntegrityError, CryptoError) as exc:
        log.error("evidence %s failed its check on this node: %s", request.evidence_ref, exc.message)  # noqa: TRY400
        return EvidenceRefusal(reason="unreadable", message=exc.message[:500])
    if len(content) > MAX_EVIDENCE_JPEG_BYTES:
        return EvidenceRefusal(reason="unreadable", message=f"the image is {len(content)} bytes (over 8 MiB)")
    if not limit.take():
        return EvidenceRefusal(
            reason="rate_limited", message=f"{limit.per_hour} evidence images sent in the last hour"
        )
    certificate = signer_certificate(store.data_dir, record.signer_key_id)
    endorsed = None if certificate else endorse_signer(store.data_dir, store.node_id, record.signer_key_id)
    return EvidenceUpload(
        statement=_statement(record, store.node_id),
        signature_b64=base64.b64encode(record.signature).decode("ascii"),
        signer_key_id=record.signer_key_id,
        signer_certificate_pem=certificate,
        signer_public_key_pem=endorsed[0] if endorsed else None,
        endorsement_b64=endorsed[1] if endorsed else None,
        image_jpeg_b64=base64.b64encode(content).decode("ascii"),
    )


class RemoteViewWorker(Worker):
    """Long-polls the server for evidence requests and answers each one."""

    def __init__(
        self,
        stop: threading.Event,
        *,
        store: EvidenceStore,
        client_factory: Callable[[], httpx.Client],
        per_hour: int = 120,
        wait_s: float = 10.0,
        retry_max_s: float = 30.0,
    ) -> None:
        super().__init__("evidence-remote-view", stop)
        self.store = store
        self.client_factory = client_factory
        self.limit = HourlyLimit(per_hour)
        self.wait_s = wait_s
        self.retry_max_s = retry_max_s
        self.client: httpx.Client | None = None
        self.uploaded = 0
        self.refused = 0
        self.polls = 0
        self.connected = False
        self._backoff_s = 0.0

    def setup(self) -> None:
        self.client = self.client_factory()

    def teardown(self) -> None:
        if self.client is not None:
            self.client.close()

    def step(self) -> None:
        requests = self._poll()
        if requests is None:
            self._backoff_s = min(self.retry_max_s, max(0.5, self._backoff_s * 2))
            self.stop_event.wait(self._backoff_s)
            return
        self._backoff_s = 0.0
        for request in requests.requests:
            if self.stop_event.is_set():
                return
            self._answer(request)

    def _poll(self) -> EvidenceViewRequests | None:
        assert self.client is not None  # noqa: S101 - set in setup
        try:
            response = self.client.get(
                REQUESTS_PATH,
                params={"wait": self.wait_s},
                timeout=httpx.Timeout(self.wait_s + 15.0, connect=5.0),
            )
        except httpx.HTTPError as exc:
            self._fail(f"cannot reach the server: {type(exc).__name__}: {exc}")
            return None
        self.polls += 1
        if response.status_code == 429:
            retry = response.headers.get("retry-after", "1")
            self._backoff_s = float(retry) / 2 if retry.isdigit() else 0.5
            self._fail("the server asked the node to poll less often (429)")
            return None
        if response.status_code != 200:
            self._fail(f"the server answered the poll with {response.status_code}: {response.text[:200]}")
            return None
        try:
            requests = EvidenceViewRequests.model_validate_json(response.content)
        except ValidationError as exc:
            self._fail(
                f"the server's answer to the poll is not a list of requests: {exc.error_count()} errors"
            )
            return None
        self.connected = True
        return requests

    def _fail(self, message: str) -> None:
        if self.connected or self.last_error != message:
            log.warning("evidence remote view: %s", message)
        self.connected = False
        self.last_error = message

    def _answer(self, request: EvidenceViewRequest) -> None:
        assert self.client is not None  # noqa: S101 - set in setup
        reply = build_reply(self.store, request, self.limit)
        if isinstance(reply, EvidenceRefusal):
            self.refused += 1
            log.info("evidence %s not sent: %s (%s)", request.evidence_ref, reply.reason, reply.message)
        try:
            response = self.client.post(
                f"{REQUESTS_PATH}/{request.request_id}",
                content=reply.model_dump_json().encode(),
                headers=_JSON,
            )
        except httpx.HTTPError as exc:
            self._fail(f"cannot send evidence {request.evidence_ref}: {type(exc).__name__}: {exc}")
            return
        if response.status_code == 204:
            if isinstance(reply, EvidenceUpload):
                self.uploaded += 1
                log.info("evidence %s sent for request %s", request.evidence_ref, request.request_id)
            return
        log.warning(
            "the server did not take the answer for evidence %s: %d %s",
            request.evidence_ref,
            response.status_code,
            response.text[:300],
        )
