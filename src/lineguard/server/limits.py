"""Per-node rate limiting (token bucket) and a request body read under a size limit,
shared by every domain that takes requests from nodes (ingest, evidence views).

The body is read chunk by chunk and refused with 413 as soon as it passes the limit,
whether or not the client sent a Content-Length (a lying or absent header changes
nothing): an oversized upload never reaches the JSON parser or memory in full.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable

from lineguard.contracts.errors import PayloadTooLargeError, RateLimitedError

__all__ = ["RetryLaterError", "TokenBuckets", "read_limited_body"]


class RetryLaterError(RateLimitedError):
    """429 with the seconds after which a retry will be admitted (``Retry-After``)."""

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class TokenBuckets:
    """One token bucket per key: ``rate`` tokens per second, at most ``burst`` saved."""

    def __init__(self, *, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, cost: float = 1.0) -> None:
        """Spend ``cost`` tokens or raise :class:`RetryLaterError`."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < cost:
                self._buckets[key] = (tokens, now)
                wait_s = (cost - tokens) / self.rate
                msg = f"rate limit of {self.rate:g} requests/s (burst {self.burst:g}) exceeded for {key}"
                raise RetryLaterError(msg, retry_after_s=wait_s)
            self._buckets[key] = (tokens - cost, now)


async def read_limited_body(
    chunks: AsyncIterator[bytes], *, content_length: str | None, max_bytes: int
) -> bytes:
    if content_length is not None:
        try:
            declared = int(content_length)
        except ValueError:
            declared = -1
        if declared > max_bytes:
            msg = f"request body is {declared} bytes; the limit is {max_bytes}"
            raise PayloadTooLargeError(msg)
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > max_bytes:
            msg = f"request body exceeds the limit of {max_bytes} bytes"
            raise PayloadTooLargeError(msg)
    return bytes(body)
