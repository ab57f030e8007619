"""Signed JSON between LineGuard and a CMMS, both directions: HMAC-SHA256 with a key id and a timestamp.

A request carries::

    X-LineGuard-Key-Id:    <key id>
    X-LineGuard-Timestamp: <Unix seconds>
    X-LineGuard-Signature: v1=<hex HMAC-SHA256(key, "<timestamp>." + body)>

The receiver looks the key up by id, refuses a timestamp further than the replay window
from its clock, and compares signatures in constant time. Signing the timestamp with
the body means a captured request cannot be replayed after the window, and the key id
lets both sides rotate keys without a flag day. :func:`verify` raises a
:class:`SignatureError` that says which check failed, never the key or the signature.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

from lineguard.contracts.errors import SignatureError

__all__ = ["KEY_ID_HEADER", "MIN_KEY_LENGTH", "SIGNATURE_HEADER", "TIMESTAMP_HEADER", "sign", "verify"]

KEY_ID_HEADER = "X-LineGuard-Key-Id"
TIMESTAMP_HEADER = "X-LineGuard-Timestamp"
SIGNATURE_HEADER = "X-LineGuard-Signature"
MIN_KEY_LENGTH = 32


def _mac(key: bytes, timestamp: str, body: bytes) -> str:
    return hmac.new(key, timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def sign(body: bytes, *, key_id: str, key: bytes, now: float | None = None) -> dict[str, str]:
    """The three signature headers for ``body``."""
    timestamp = str(int(time.time() if now is None else now))
    return {
        KEY_ID_HEADER: key_id,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: f"v1={_mac(key, timestamp, body)}",
    }


def verify(
    headers: Mapping[str, str],
    body: bytes,
    *,
    keys: Mapping[str, bytes],
    window_s: int,
    now: float | None = None,
) -> str:
    """The key id that signed ``body``; :class:`SignatureError` otherwise (which check failed)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    key_id = lowered.get(KEY_ID_HEADER.lower())
    timestamp = lowered.get(TIMESTAMP_HEADER.lower())
    signature = lowered.get(SIGNATURE_HEADER.lower())
    if not key_id or not timestamp or not signature:
        msg = f"unsigned request: expected {KEY_ID_HEADER}, {TIMESTAMP_HEADER} and {SIGNATURE_HEADER}"
        raise SignatureError(msg)
    key = keys.get(key_id)
    if key is None:
        msg = f"unknown key id {key_id[:64]!r}: expected one of {', '.join(sorted(keys))}"
        raise SignatureError(msg)
    if not timestamp.isdigit() or len(timestamp) > 12:
        msg = "timestamp must be Unix seconds"
        raise SignatureError(msg)
    skew = abs((time.time() if now is None else now) - int(timestamp))
    if skew > window_s:
        msg = f"timestamp is {int(skew)} s away from the server clock; the replay window is {window_s} s"
        raise SignatureError(msg)
    if not signature.startswith("v1="):
        msg = "signature must be 'v1=<hex HMAC-SHA256>'"
        raise SignatureError(msg)
    if not hmac.compare_digest(signature[3:].encode(), _mac(key, timestamp, body).encode()):
        msg = "signature does not match the body and timestamp"
        raise SignatureError(msg)
    return key_id
