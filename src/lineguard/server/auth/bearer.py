"""Bearer secrets: browser session ids, CSRF tokens and API tokens.

Every secret is 256 random bits. The database keeps only its SHA-256 (a fast hash is
right here: the input is random, not a guessable password), so a stolen database
backup yields no working session or token. API tokens read ``lgt_<id>_<secret>``: the
id finds the row, the secret is compared in constant time against the stored hash.

The CSRF token of a session is an HMAC of a fixed label keyed by the session id. The
cookie holding the session id is ``HttpOnly``, so page scripts cannot compute it; they
fetch it from ``GET /api/v1/auth/csrf`` and send it back in ``X-CSRF-Token`` on every
unsafe request. A forged cross-site request carries the cookie (were SameSite=Strict
ever bypassed) but cannot know the token.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from lineguard.contracts.errors import AuthenticationError

__all__ = [
    "API_TOKEN_PREFIX",
    "ApiTokenParts",
    "csrf_matches",
    "csrf_token_for",
    "digest",
    "new_api_token",
    "new_session_token",
    "parse_api_token",
]

API_TOKEN_PREFIX = "lgt_"  # noqa: S105 - a prefix, not a secret
_TOKEN_RE = re.compile(r"^lgt_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$")
_CSRF_LABEL = b"lineguard-csrf-v1"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_token_for(session_token: str) -> str:
    return hmac.new(session_token.encode("utf-8"), _CSRF_LABEL, hashlib.sha256).hexdigest()


def csrf_matches(session_token: str, presented: str | None) -> bool:
    """Constant-time comparison of a presented CSRF token with the session's."""
    if not presented:
        return False
    # Compare bytes: a header may carry any latin-1 text, and compare_digest refuses
    # non-ASCII str (a TypeError would turn a forged header into a 500).
    expected = csrf_token_for(session_token).encode("ascii")
    return hmac.compare_digest(expected, presented.encode("utf-8", "surrogatepass"))


@dataclass(frozen=True, slots=True)
class ApiTokenParts:
    token_id: str
    secret: str


def new_api_token(token_id: str) -> tuple[str, str]:
    """``(full token shown once, digest of its secret to store)`` for row ``token_id``."""
    secret = secrets.token_urlsafe(32)
    return f"{API_TOKEN_PREFIX}{token_id}_{secret}", digest(secret)


def parse_api_token(token: str) -> ApiTokenParts:
    match = _TOKEN_RE.match(token)
    if match is None:
        msg = "malformed API token: expected lgt_<32 hex>_<43 url-safe characters>"
        raise AuthenticationError(msg)
    return ApiTokenParts(token_id=match.group(1), secret=match.group(2))
