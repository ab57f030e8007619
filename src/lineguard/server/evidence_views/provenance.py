"""Checks on an evidence upload before a byte of it reaches a browser.

:meth:`ProvenanceVerifier.verify` runs every check in order and raises the first
failure as an :class:`~lineguard.contracts.errors.IntegrityError` (or
``ImageDecodeError``) that says what was expected and what was found:

1. the image is at most 8 MiB and really a JPEG (:func:`.jpeg.check_jpeg`);
2. its sha256 is the ``content_sha256`` of the signed statement;
3. the statement is about what was asked: this node, this evidence object, this event
   and camera;
4. the key that signed is one the plant CA certified for this node, and it was
   certified when the image was captured (subclasses supply the key:
   :class:`CertifiedSigner` from the certificate the node sends, checked against
   the CA and the server's record of the certificates it issued;
   :class:`EndorsedSigner` for evidence captured before the node enrolled, signed by
   the node's own key, which its enrolled key — the client certificate of this very
   request — vouches for);
5. the signature over the canonical statement verifies with that key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from lineguard.contracts.errors import InputError, IntegrityError, SignatureError
from lineguard.contracts.evidence_view import (
    MAX_EVIDENCE_JPEG_BYTES,
    EvidenceStatement,
    EvidenceUpload,
    endorsement_statement,
)
from lineguard.crypto import canonical_json
from lineguard.server.evidence_views.jpeg import JpegInfo, check_jpeg
from lineguard.server.pki import PlantCa, certificate_fingerprint

__all__ = [
    "CertificateRecord",
    "CertifiedSigner",
    "EndorsedSigner",
    "Expected",
    "ProvenanceVerifier",
    "VerifiedEvidence",
]

#: Allowed difference between the node's clock and the certificate's validity period.
CLOCK_SKEW = timedelta(minutes=5)

PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey


@dataclass(frozen=True, slots=True)
class Expected:
    """What the server asked the node for."""

    node_id: str
    evidence_ref: str
    event_id: str
    camera_id: str


@dataclass(frozen=True, slots=True)
class CertificateRecord:
    """What the server recorded when it issued a node certificate."""

    node_id: str
    fingerprint_sha256: str
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class VerifiedEvidence:
    image: bytes
    info: JpegInfo
    statement: EvidenceStatement
    certificate_serial: str


def key_id(public_key: PublicKey) -> str:
    """The node's key id: sha256 of the PEM public key, as ``EvidenceSigner`` computes it."""
    pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(pem).hexdigest()[:32]


def _b64decode(text: str) -> bytes:
    """Strict base64, raising ``binascii.Error`` for every malformed text.

    ``b64decode`` refuses a str holding a non-ASCII character with a bare ``ValueError``,
    not ``binascii.Error``: a node's answer carrying one must still be refused as bad
    base64 (a typed error), not escape as an unexpected exception.
    """
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as exc:  # binascii.Error is a ValueError too
        raise binascii.Error(str(exc)) from None


def _verify(public_key: PublicKey, signature_b64: str, data: bytes) -> None:
    """Raise ``InvalidSignature`` (or ``binascii.Error``) unless the signature verifies."""
    signature = _b64decode(signature_b64)
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        public_key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    else:
        public_key.verify(signature, data)


def _utc(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        msg = f"captured_at {text[:40]!r} is not an ISO 8601 time"
        raise IntegrityError(msg) from None
    if moment.tzinfo is None:
        msg = f"captured_at {text[:40]!r} has no time zone (expected UTC)"
        raise IntegrityError(msg)
    return moment


class ProvenanceVerifier(ABC):
    """Template: :meth:`verify` runs every check; subclasses find the signer's key."""

    def verify(self, upload: EvidenceUpload, expected: Expected) -> VerifiedEvidence:
        image = self._decode(upload.image_jpeg_b64)
        info = check_jpeg(image)
        statement = upload.statement
        digest = hashlib.sha256(image).hexdigest()
        if digest != statement.content_sha256:
            msg = f"the image hashes to {digest}, but the signed statement says {statement.content_sha256}"
            raise IntegrityError(msg)
        self._check_binding(statement, expected)
        public_key, serial = self.signer_key(upload, statement)
        if key_id(public_key) != upload.signer_key_id:
            msg = (
                f"the signer key id is {upload.signer_key_id}, "
                f"but the certified key's id is {key_id(public_key)}"
            )
            raise SignatureError(msg)
        try:
            _verify(public_key, upload.signature_b64, canonical_json(statement.signed_fields()))
        except (binascii.Error, InvalidSignature):
            msg = (
                f"the signature by key {upload.signer_key_id} does not match the statement for "
                f"{statement.evidence_id}: the evidence or its statement was altered"
            )
            raise SignatureError(msg) from None
        return VerifiedEvidence(image=image, info=info, statement=statement, certificate_serial=serial)

    @abstractmethod
    def signer_key(self, upload: EvidenceUpload, statement: EvidenceStatement) -> tuple[PublicKey, str]:
        """The key certified for the node at capture time, and its certificate's serial."""

    @staticmethod
    def _decode(text: str) -> bytes:
        try:
            image = _b64decode(text)
        except binascii.Error:
            msg = "image_jpeg_b64 is not valid base64"
            raise InputError(msg) from None
        if len(image) > MAX_EVIDENCE_JPEG_BYTES:
            msg = f"the image is {len(image)} bytes; the limit is {MAX_EVIDENCE_JPEG_BYTES}"
            raise InputError(msg)
        return image

    @staticmethod
    def _check_binding(statement: EvidenceStatement, expected: Expected) -> None:
        pairs = [
            ("node_id", statement.node_id, expected.node_id),
            ("evidence_id", statement.evidence_id, expected.evidence_ref),
            ("event_id", statement.event_id, expected.event_id),
            ("camera_id", statement.camera_id, expected.camera_id),
        ]
        for name, got, want in pairs:
            if got != want:
                msg = f"the signed statement's {name} is {got!r}, but {want!r} was requested"
                raise IntegrityError(msg)


class CertifiedSigner(ProvenanceVerifier):
    """The signer's key comes from a plant-CA certificate the server issued to this node."""

    def __init__(self, ca: PlantCa, lookup: Callable[[str], CertificateRecord | None]) -> None:
        self.ca = ca
        self.lookup = lookup

    def signer_key(self, upload: EvidenceUpload, statement: EvidenceStatement) -> tuple[PublicKey, str]:
        if upload.signer_certificate_pem is None:
            msg = (
                f"evidence {statement.evidence_id} was signed by key {upload.signer_key_id}, which no "
                f"certificate of node {statement.node_id} certifies (captured before the node enrolled)"
            )
            raise SignatureError(msg)
        try:
            cert = x509.load_pem_x509_certificate(upload.signer_certificate_pem.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            msg = "signer_certificate_pem is not a PEM certificate"
            raise SignatureError(msg) from None
        try:
            self.ca.verify_issued(cert)
        except InputError as exc:
            raise SignatureError(exc.message) from None
        serial = format(cert.serial_number, "x")
        record = self.lookup(serial)
        if record is None or record.node_id != statement.node_id:
            owner = "no node" if record is None else f"node {record.node_id}"
            msg = f"certificate {serial} was issued to {owner}, expected node {statement.node_id}"
            raise SignatureError(msg)
        if record.fingerprint_sha256 != certificate_fingerprint(cert):
            msg = f"certificate {serial} does not match the certificate issued with that serial"
            raise SignatureError(msg)
        captured = _utc(statement.captured_at)
        start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
        if record.revoked_at is not None:
            end = min(end, record.revoked_at)
        if not start - CLOCK_SKEW <= captured <= end + CLOCK_SKEW:
            msg = (
                f"evidence captured at {captured.isoformat()} outside the period certificate {serial} "
                f"certified its key ({start.isoformat()} to {end.isoformat()})"
            )
            raise SignatureError(msg)
        public_key = cert.public_key()
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            msg = f"certificate {serial} holds a {type(public_key).__name__}, expected an EC P-256 key"
            raise SignatureError(msg)
        return public_key, serial


class EndorsedSigner(ProvenanceVerifier):
    """Evidence captured before the node enrolled: its own key signed it, and its enrolled
    key (the client certificate of the request that uploads it) vouches for that key.

    Only evidence captured before the node's enrollment (``enrolled_at``, ±5 min) is
    accepted this way; anything later must come with a certified key.
    """

    def __init__(self, *, client_cert_pem: str | None, enrolled_at: datetime | None) -> None:
        self.client_cert_pem = client_cert_pem
        self.enrolled_at = enrolled_at

    def signer_key(self, upload: EvidenceUpload, statement: EvidenceStatement) -> tuple[PublicKey, str]:
        if upload.signer_public_key_pem is None or upload.endorsement_b64 is None:
            msg = (
                f"evidence {statement.evidence_id} was signed by key {upload.signer_key_id}, which no "
                f"certificate of node {statement.node_id} certifies (captured before the node enrolled) "
                "and which the node's enrolled key does not vouch for"
            )
            raise SignatureError(msg)
        if self.client_cert_pem is None or self.enrolled_at is None:
            msg = f"node {statement.node_id} has no enrolled key here to vouch for key {upload.signer_key_id}"
            raise SignatureError(msg)
        captured = _utc(statement.captured_at)
        if captured > self.enrolled_at + CLOCK_SKEW:
            msg = (
                f"evidence captured at {captured.isoformat()}, after node {statement.node_id} enrolled "
                f"({self.enrolled_at.isoformat()}), must be signed by a certified key, "
                f"not key {upload.signer_key_id}"
            )
            raise SignatureError(msg)
        try:
            public_key = serialization.load_pem_public_key(upload.signer_public_key_pem.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            msg = "signer_public_key_pem is not a PEM public key"
            raise SignatureError(msg) from None
        if not isinstance(public_key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
            msg = f"the pre-enrollment key is a {type(public_key).__name__}, expected Ed25519 or EC"
            raise SignatureError(msg)
        client = x509.load_pem_x509_certificate(self.client_cert_pem.encode("ascii"))
        endorser = client.public_key()
        serial = format(client.serial_number, "x")
        if not isinstance(endorser, ec.EllipticCurvePublicKey):
            msg = f"client certificate {serial} holds a {type(endorser).__name__}, expected an EC P-256 key"
            raise SignatureError(msg)
        vouched = endorsement_statement(
            node_id=statement.node_id,
            key_id=upload.signer_key_id,
            public_key_pem=upload.signer_public_key_pem,
        )
        try:
            _verify(endorser, upload.endorsement_b64, canonical_json(vouched))
        except (binascii.Error, InvalidSignature):
            msg = (
                f"the endorsement of key {upload.signer_key_id} does not verify with the key of client "
                f"certificate {serial}: node {statement.node_id} did not vouch for it"
            )
            raise SignatureError(msg) from None
        return public_key, serial
