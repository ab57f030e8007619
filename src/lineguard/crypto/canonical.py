"""Canonical JSON: one byte string per value, so hashes and MACs are reproducible.

Follows RFC 8785 (JSON Canonicalization Scheme) for the values LineGuard hashes:
object keys sorted by code point, no insignificant whitespace, UTF-8, and no
floating-point numbers (their canonical form is the one part of JCS that is easy to
get subtly wrong, and nothing we hash needs them: times are strings, scores are
scaled integers or strings). Datetimes must be timezone-aware and are written as UTC
RFC 3339 strings with microseconds, ``2026-11-22T00:47:02.123456Z``; bytes are
written as unpadded base64url. Anything else is a programming error.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from lineguard.contracts.errors import InputError

__all__ = ["b64d", "b64e", "canonical_json", "canonical_strings", "utc_text"]


def utc_text(moment: datetime) -> str:
    """The canonical text of an aware datetime: UTC, microseconds, ``Z`` suffix."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        msg = f"expected a timezone-aware datetime, got naive {moment.isoformat()}"
        raise InputError(msg)
    return moment.astimezone(UTC).isoformat(timespec="microseconds").removesuffix("+00:00") + "Z"


def b64e(data: bytes) -> str:
    """Unpadded base64url text of ``data``."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(text: str) -> bytes:
    """Inverse of :func:`b64e`; raises :class:`InputError` on anything else."""
    if not isinstance(text, str) or any(c not in _B64_ALPHABET for c in text) or len(text) % 4 == 1:
        msg = "expected unpadded base64url text"
        raise InputError(msg)
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_B64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _normalise(value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        # JCS numbers are IEEE doubles: larger integers would not round-trip elsewhere.
        if abs(value) > 2**53:
            msg = f"integer {value} is outside the interoperable range ±2^53"
            raise InputError(msg)
        return value
    if isinstance(value, float):
        msg = "floats have no canonical form here: use an integer or a string"
        raise InputError(msg)
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, bytes):
        return b64e(value)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                msg = f"object keys must be strings, got {type(key).__name__}"
                raise InputError(msg)
            out[key] = _normalise(item)
        return out
    if isinstance(value, Sequence):
        return [_normalise(item) for item in value]
    msg = f"cannot canonicalise a {type(value).__name__}"
    raise InputError(msg)


#: One encoder for every call: building one per call costs more than encoding a small object.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_strings(value: Mapping[str, str]) -> bytes:
    """Fast path of :func:`canonical_json` for a flat object of strings (headers, AAD)."""
    return _ENCODER.encode(value).encode("utf-8")


def canonical_json(value: Any) -> bytes:
    """The canonical UTF-8 encoding of ``value`` (see the module docstring)."""
    return _ENCODER.encode(_normalise(value)).encode("utf-8")
