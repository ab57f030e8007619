"""Enrollment tokens: one-time, expiring, stored only as a hash.

Text form (what an administrator hands to the node's installer)::

    lgt1.<token_id>.<secret>.<ca_sha256>

``token_id`` (16 hex) finds the record, ``secret`` (43 characters of base64url, 256
bits) proves possession and is kept by the server only as its sha256 (a 256-bit random
secret needs no slow hash), and ``ca_sha256`` (64 hex) is the fingerprint of the plant
CA certificate the node must see before it trusts the server. The edge parses the same
format in ``lineguard.edge.identity.token``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from lineguard.contracts.errors import AuthenticationError

__all__ = ["TOKEN_PREFIX", "EnrollmentTokenText", "hash_secret", "secrets_match"]

TOKEN_PREFIX = "lgt1"  # noqa: S105 - a format tag, not a secret
_TOKEN_RE = re.compile(r"^lgt1\.([0-9a-f]{16})\.([A-Za-z0-9_-]{43})\.([0-9a-f]{64})$")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def secrets_match(secret: str, stored_sha256: str) -> bool:
    """Constant-time comparison of a presented secret with the stored hash."""
    return hmac.compare_digest(hash_secret(secret), stored_sha256)


@dataclass(frozen=True)
class EnrollmentTokenText:
    token_id: str
    secret: str
    ca_sha256: str

    @classmethod
    def generate(cls, ca_sha256: str) -> EnrollmentTokenText:
        secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii").rstrip("=")
        return cls(secrets.token_hex(8), secret, ca_sha256)

    @classmethod
    def parse(cls, text: str) -> EnrollmentTokenText:
        match = _TOKEN_RE.match(text.strip())
        if match is None:
            msg = "malformed enrollment token: expected lgt1.<16 hex>.<43 base64url>.<64 hex>"
            raise AuthenticationError(msg)
        return cls(match.group(1), match.group(2), match.group(3))

    def __str__(self) -> str:
        return f"{TOKEN_PREFIX}.{self.token_id}.{self.secret}.{self.ca_sha256}"

    def __repr__(self) -> str:  # never show the secret in logs or tracebacks
        return f"EnrollmentTokenText(token_id={self.token_id!r}, ca_sha256={self.ca_sha256[:12]}...)"
