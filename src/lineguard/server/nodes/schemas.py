"""Request and response bodies of the node-identity API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CertificateResponse",
    "EnrollRequest",
    "ForwardedEnrollment",
    "ForwardedRenewal",
    "NodeView",
    "RenewRequest",
    "RevokeRequest",
    "TokenRequest",
    "TokenResponse",
]

_PEM_MAX = 8192


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EnrollRequest(_Body):
    token: str = Field(max_length=200, description="The one-time enrollment token (lgt1.…).")
    csr_pem: str = Field(max_length=_PEM_MAX, description="PKCS#10 CSR signed with the node's own key.")


#: A base64 DER ECDSA P-256 signature is at most 72 bytes (96 characters).
_PROOF_MAX = 200


class RenewRequest(_Body):
    csr_pem: str = Field(max_length=_PEM_MAX, description="A CSR for the node's (possibly new) key.")
    proof: str | None = Field(
        default=None,
        max_length=_PROOF_MAX,
        description="Base64 ECDSA-SHA256 signature by the node's current key over "
        "contracts.certificates.renewal_proof_message (its certificate, this CSR). Required when "
        "the renewal reaches a replica without the CA key; nodes older than this field renew "
        "only on an issuer, whose TLS handshake proved the key.",
    )


class ForwardedEnrollment(_Body):
    """An enrollment a non-issuer replica checked and forwards to the issuer (relay ``pki.enroll``)."""

    token: str = Field(max_length=200)
    csr_pem: str = Field(max_length=_PEM_MAX)
    source: str | None = Field(default=None, max_length=64, description="The node's address, as seen.")


class ForwardedRenewal(_Body):
    """A renewal a non-issuer replica authenticated and forwards to the issuer (relay ``pki.renew``).

    The node's presented certificate travels so the issuer authenticates it again against
    the database (serial current, node active), not on the forwarder's word; the node's
    proof (its current key's signature over certificate and CSR) so the issuer knows the
    node asked, not only a replica that saw its certificate.
    """

    certificate_pem: str = Field(max_length=_PEM_MAX)
    csr_pem: str = Field(max_length=_PEM_MAX)
    proof: str | None = Field(default=None, max_length=_PROOF_MAX, description="As the node sent it.")


class CertificateResponse(_Body):
    node_id: str
    site_id: str
    line_id: str
    camera_ids: list[str]
    certificate_pem: str
    ca_pem: str = Field(
        description="The plant CA certificates the node trusts from now on: one, or the new and "
        "the previous CA while a CA rotation overlaps."
    )
    not_after: datetime


class NodeView(_Body):
    node_id: str
    site_id: str
    line_id: str
    camera_ids: list[str]
    status: str
    enrolled_at: datetime
    revoked_at: datetime | None
    certificate_not_after: datetime | None


_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class TokenRequest(_Body):
    node_id: str = Field(pattern=_NAME)
    line_id: str = Field(pattern=_NAME)
    camera_ids: list[str] = Field(min_length=1, max_length=64)
    ttl_hours: float | None = Field(default=None, ge=0.05, le=720)


class TokenResponse(_Body):
    token: str = Field(description="Hand to the node's installer; shown once, stored only as a hash.")
    node_id: str
    expires_in_hours: float


class RevokeRequest(_Body):
    reason: str = Field(min_length=1, max_length=500)
