"""Opaque, time-ordered identifiers (UUIDv7, RFC 9562).

IDs are never sequential integers: they leak volume and invite enumeration. UUIDv7
sorts by creation time, which keeps B-tree inserts append-mostly on the server.
"""

from __future__ import annotations

import os
import time
import uuid

__all__ = ["new_id", "new_ids", "uuid7"]


def _uuid7_int(ms: int, rand: int) -> int:
    """48-bit Unix milliseconds, version 7, 12 + 62 bits of ``rand`` (80 random bits given)."""
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 62) & 0xFFF) << 64  # rand_a, 12 bits
    value |= 0b10 << 62  # RFC 4122 variant
    value |= rand & ((1 << 62) - 1)  # rand_b, 62 bits
    return value


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def uuid7(now_ms: int | None = None) -> uuid.UUID:
    """Return a UUIDv7: 48-bit Unix milliseconds, then 74 random bits."""
    ms = _now_ms() if now_ms is None else now_ms
    return uuid.UUID(int=_uuid7_int(ms, int.from_bytes(os.urandom(10), "big")))


def new_id(prefix: str) -> str:
    """An opaque id such as ``evt_0193...`` whose prefix names what it identifies."""
    return new_ids(prefix, 1)[0]


def new_ids(prefix: str, count: int) -> list[str]:
    """``count`` ids as :func:`new_id` makes them, their random bits from one ``os.urandom``
    call: each call releases the GIL, and a hundred of them per ingest batch made the
    server's threads hand the GIL back and forth a hundred times.

    Each id is assembled from hex text rather than an integer (a third of the cost; an
    ingest batch makes one per sealed field): 20 random hex digits per id give rand_a
    (3 digits, 12 bits), the variant digit (``10`` then 2 random bits) and 15 digits of
    rand_b, so 74 random bits, as :func:`uuid7` has.
    """
    head = f"{prefix}_{_now_ms() & _MS_MASK:012x}7"
    digits = os.urandom(10 * count).hex()
    variant = _VARIANT_DIGIT
    return [
        f"{head}{digits[i : i + 3]}{variant[digits[i + 3]]}{digits[i + 4 : i + 19]}"
        for i in range(0, 20 * count, 20)
    ]


_MS_MASK = (1 << 48) - 1
#: A random hex digit → the UUID variant digit: ``10`` followed by its two low bits.
_VARIANT_DIGIT = {f"{n:x}": f"{0b1000 | (n & 0b11):x}" for n in range(16)}
