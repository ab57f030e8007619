"""Remote evidence view: the messages between the plant server and an edge node.

The node stays outbound-only. It long-polls the server for view requests and answers
each one with the redacted JPEG and the provenance statement it signed at capture, or
with a refusal::

    browser ── POST /dashboard/records/{id}/evidence ──► server   (queues a request)
    node    ── GET  /nodes/self/evidence-requests?wait=10 ──► server
            ◄── EvidenceViewRequests
    node    ── POST /nodes/self/evidence-requests/{request_id} ──► server
               EvidenceUpload | EvidenceRefusal (discriminated on ``kind``)
    browser ── GET  /evidence-views/{view_id} (polls: 202 … then 200 image/jpeg once)

:class:`EvidenceStatement` holds exactly the fields the node signed
(``EvidenceRecord.statement``): the server re-serialises it as canonical JSON and checks
the signature over those bytes, so every field is kept as the text that was signed.

The errors a browser sees while polling a view are drawn here, each a
:class:`~lineguard.contracts.errors.LineGuardError` with its HTTP status::

    LineGuardError
    ├── ConflictError                (409)
    │   ├── EvidenceRefusedError         (409, "evidence_refused")   the node said no
    │   └── EvidenceViewUnavailableError (409, "evidence_view_unavailable")  several processes on SQLite
    ├── EvidenceViewGoneError        (410, "evidence_view_gone")    handed out already, or expired
    │   └── EvidenceViewLostError        (410, "evidence_view_lost")  the replica holding it stopped
    ├── EvidenceUploadRejectedError  (502, "evidence_upload_rejected")  the upload failed a check
    ├── EvidenceRelayError           (502, "evidence_relay_failed")  another replica could not be reached
    ├── PermissionDeniedError        (403)
    │   └── ReplicaRevokedError          (403, "replica_revoked")   a revoked replica's relay identity
    └── NodeTimeoutError             (504, "node_timeout")          the node did not answer in time
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lineguard.contracts.errors import ConflictError, LineGuardError, PermissionDeniedError
from lineguard.contracts.events import BoundingBox

__all__ = [
    "ENDORSEMENT_FORMAT",
    "MAX_EVIDENCE_JPEG_BYTES",
    "STATEMENT_FORMAT",
    "STATEMENT_FORMAT_V2",
    "EvidenceRefusal",
    "EvidenceRefusedError",
    "EvidenceRelayError",
    "EvidenceReply",
    "EvidenceStatement",
    "EvidenceUpload",
    "EvidenceUploadRejectedError",
    "EvidenceViewGoneError",
    "EvidenceViewLostError",
    "EvidenceViewRequest",
    "EvidenceViewRequests",
    "EvidenceViewUnavailableError",
    "NodeTimeoutError",
    "RefusalReason",
    "ReplicaRevokedError",
    "endorsement_statement",
]

#: The largest evidence image a node may upload (8 MiB).
MAX_EVIDENCE_JPEG_BYTES = 8 * 2**20
#: ``format`` of the statement a node signs at capture (v1: whole frames, before regions were recorded).
STATEMENT_FORMAT = "lineguard-evidence-v1"
#: ``format`` of a statement that also names the frame region shown and whether redaction hid a defect.
STATEMENT_FORMAT_V2 = "lineguard-evidence-v2"

_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
Ident = Annotated[str, Field(min_length=1, max_length=128, pattern=_ID)]
#: Why a node did not upload: it holds no such object (never stored, or crypto-shredded
#: by retention), remote view is off, its hourly limit is spent, or the stored object
#: failed its own integrity check on the node.
RefusalReason = Literal["not_held", "disabled", "rate_limited", "unreadable"]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EvidenceViewRequest(_Message):
    """One request for one evidence object, from the server to the node holding it."""

    request_id: Ident
    evidence_ref: Ident = Field(description="The evidence_ref the node reported with the event.")
    event_id: Ident
    camera_id: Ident
    expires_at: datetime = Field(description="After this the server no longer takes an answer.")


class EvidenceViewRequests(_Message):
    """The answer to a node's long poll: pending requests, possibly none."""

    requests: list[EvidenceViewRequest] = Field(default_factory=list, max_length=64)


class EvidenceStatement(_Message):
    """Exactly what the node signed at capture (see ``EvidenceRecord.statement``).

    A v2 statement also says which region of the camera frame the image shows (the
    evidence crop, in frame pixels, the coordinates of the event's defect boxes) and
    whether privacy redaction hid part of a defect region; a v1 statement has neither.
    The signature covers the JSON without the absent (``None``) fields.
    """

    format: Literal["lineguard-evidence-v1", "lineguard-evidence-v2"]
    node_id: Ident
    evidence_id: Ident
    category: Literal["fail", "uncertain", "pass"]
    camera_id: Ident
    event_id: Ident
    captured_at: str = Field(max_length=40, description="UTC time as signed (text, not re-formatted).")
    content_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    redaction: str = Field(max_length=200)
    stored_region: BoundingBox | None = Field(
        default=None, description="v2: where the image sits in the camera frame (frame pixels)."
    )
    defect_hidden: bool | None = Field(
        default=None, description="v2: privacy redaction hid part of a defect region in this image."
    )

    @model_validator(mode="after")
    def _fields_of_the_format(self) -> EvidenceStatement:
        v2 = self.format == STATEMENT_FORMAT_V2
        present = (self.stored_region is not None, self.defect_hidden is not None)
        if present != (v2, v2):
            msg = (
                f"a {self.format} statement must {'' if v2 else 'not '}carry stored_region and "
                f"defect_hidden, got stored_region={self.stored_region is not None}, "
                f"defect_hidden={self.defect_hidden is not None}"
            )
            raise ValueError(msg)
        return self

    def signed_fields(self) -> dict[str, object]:
        """The fields as signed: absent (v1) fields are left out, not sent as ``null``."""
        return self.model_dump(exclude_none=True)


class EvidenceUpload(_Message):
    """The node's answer: the redacted JPEG and its provenance."""

    kind: Literal["upload"] = "upload"
    statement: EvidenceStatement
    signature_b64: str = Field(max_length=400, description="Signature over the canonical statement.")
    signer_key_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    signer_certificate_pem: str | None = Field(
        default=None,
        max_length=8192,
        description="The plant-CA certificate of the key that signed (None: signed before enrollment).",
    )
    signer_public_key_pem: str | None = Field(
        default=None,
        max_length=2048,
        description="Signed before enrollment: the node's own (Ed25519) public key that signed.",
    )
    endorsement_b64: str | None = Field(
        default=None,
        max_length=400,
        description="Signed before enrollment: the node's enrolled key's signature over "
        "endorsement_statement(node_id, signer_key_id, signer_public_key_pem).",
    )
    image_jpeg_b64: str = Field(
        max_length=(MAX_EVIDENCE_JPEG_BYTES * 4) // 3 + 4,
        description="The redacted JPEG, base64 (at most 8 MiB decoded).",
    )


class EvidenceRefusal(_Message):
    """The node's answer when it will not or cannot upload."""

    kind: Literal["refusal"] = "refusal"
    reason: RefusalReason
    message: str = Field(default="", max_length=500)


#: ``format`` of the statement by which an enrolled node vouches for its pre-enrollment key.
ENDORSEMENT_FORMAT = "lineguard-signer-endorsement-v1"


def endorsement_statement(*, node_id: str, key_id: str, public_key_pem: str) -> dict[str, str]:
    """What the node's enrolled key signs (as canonical JSON) to vouch for the key that signed
    its evidence before it enrolled."""
    return {
        "format": ENDORSEMENT_FORMAT,
        "node_id": node_id,
        "key_id": key_id,
        "public_key_pem": public_key_pem,
    }


#: What a node posts for one request.
EvidenceReply = Annotated[EvidenceUpload | EvidenceRefusal, Field(discriminator="kind")]


class EvidenceViewGoneError(LineGuardError):
    """The image was handed out already (once only), or its time ran out."""

    code: ClassVar[str] = "evidence_view_gone"
    http_status: ClassVar[int] = 410


class EvidenceViewLostError(EvidenceViewGoneError):
    """The server replica that opened the view, and alone could hand the image out, stopped."""

    code: ClassVar[str] = "evidence_view_lost"


class EvidenceRelayError(LineGuardError):
    """Another server replica did not answer on the internal relay, or refused what was handed."""

    code: ClassVar[str] = "evidence_relay_failed"
    http_status: ClassVar[int] = 502


class ReplicaRevokedError(PermissionDeniedError):
    """A server replica's relay identity was revoked: no hand-off to or from it, no renewal."""

    code: ClassVar[str] = "replica_revoked"


class EvidenceRefusedError(ConflictError):
    """The node answered with a refusal (for example: the evidence was shredded by retention)."""

    code: ClassVar[str] = "evidence_refused"


class EvidenceViewUnavailableError(ConflictError):
    """This server cannot relay evidence (several worker processes on SQLite)."""

    code: ClassVar[str] = "evidence_view_unavailable"


class EvidenceUploadRejectedError(LineGuardError):
    """The node's upload failed a check (format, size, hash, signature, certificate)."""

    code: ClassVar[str] = "evidence_upload_rejected"
    http_status: ClassVar[int] = 502


class NodeTimeoutError(LineGuardError):
    """The node holding the evidence did not answer in time."""

    code: ClassVar[str] = "node_timeout"
    http_status: ClassVar[int] = 504
