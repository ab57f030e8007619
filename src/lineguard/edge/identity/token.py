"""Parse the enrollment token the administrator gives the node.

Format ``lgt1.<token_id>.<secret>.<ca_sha256>`` (defined by the server in
``lineguard.server.pki.tokens``; the edge cannot import the server, so the parser lives
here too and a test checks that both sides agree).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lineguard.contracts.errors import InputError

__all__ = ["EnrollmentToken"]

_TOKEN_RE = re.compile(r"^lgt1\.([0-9a-f]{16})\.([A-Za-z0-9_-]{43})\.([0-9a-f]{64})$")


@dataclass(frozen=True)
class EnrollmentToken:
    text: str
    token_id: str
    ca_sha256: str

    @classmethod
    def parse(cls, text: str) -> EnrollmentToken:
        text = text.strip()
        match = _TOKEN_RE.match(text)
        if match is None:
            msg = "malformed enrollment token: expected lgt1.<16 hex>.<43 base64url>.<64 hex>"
            raise InputError(msg)
        return cls(text, match.group(1), match.group(3))

    def __repr__(self) -> str:  # the secret never reaches a log line
        return f"EnrollmentToken(token_id={self.token_id!r}, ca_sha256={self.ca_sha256[:12]}...)"
