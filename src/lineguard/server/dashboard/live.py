"""Live alerts as Server-Sent Events: what the alert page receives without reloading.

The stream polls the same query service as ``GET /api/v1/dashboard/alerts``
(:func:`lineguard.server.query.service.recent_alerts`) for the lines the reader may see,
and sends each alert once as an ``alert`` event. Every ``recheck_s`` it authenticates the
request's session again and recomputes the reader's scope, so a sign-out, an expired
session, a disabled account or a revoked grant ends the stream (an ``end`` event) within
that interval. A stream also ends after ``lifetime_s``; the browser reconnects, which runs
the route's permission check again.

Alerts are selected by the time the edge raised them, with a look-back window, so one that
arrives late (after its node's outbox drained) within ``lookback`` is still delivered.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lineguard.server.query import AlertView

__all__ = ["LiveSettings", "alert_frames", "sse_frame"]

#: Fetch alerts raised at or after a moment, for the current scope.
Fetch = Callable[[datetime], list[AlertView]]
#: Re-authenticate; False (or an exception) ends the stream.
Recheck = Callable[[], bool]


@dataclass(frozen=True)
class LiveSettings:
    poll_s: float = 1.0
    recheck_s: float = 15.0
    keepalive_s: float = 15.0
    lifetime_s: float = 300.0
    lookback: timedelta = timedelta(minutes=10)
    remember: int = 2000


def sse_frame(event: str, data: str, *, event_id: str | None = None) -> bytes:
    """One SSE message. ``data`` is JSON (one line), so no field can inject another."""
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append(f"data: {data}")
    return ("\n".join(lines) + "\n\n").encode("utf-8")


async def alert_frames(
    *,
    fetch: Fetch,
    recheck: Recheck,
    is_disconnected: Callable[[], Awaitable[bool]],
    settings: LiveSettings,
    started: datetime | None = None,
) -> AsyncIterator[bytes]:
    """SSE bytes: a retry hint, then alerts as they arrive, keep-alives, and an ``end``."""
    seen: OrderedDict[str, None] = OrderedDict()
    since = (started or datetime.now(UTC)) - settings.lookback
    begun = last_check = last_sent = time.monotonic()
    yield b"retry: 3000\n\n"
    reason = "lifetime"
    while time.monotonic() - begun < settings.lifetime_s:
        if await is_disconnected():
            return
        if time.monotonic() - last_check >= settings.recheck_s:
            last_check = time.monotonic()
            try:
                allowed = await asyncio.to_thread(recheck)
            except Exception:
                allowed = False
            if not allowed:
                reason = "signed_out"
                break
        alerts = await asyncio.to_thread(fetch, since)
        for alert in sorted(alerts, key=lambda a: a.raised_at):
            if alert.alert_id in seen:
                continue
            seen[alert.alert_id] = None
            if len(seen) > settings.remember:
                seen.popitem(last=False)
            last_sent = time.monotonic()
            yield sse_frame("alert", alert.model_dump_json(), event_id=alert.alert_id)
        if alerts:
            since = max(since, max(a.raised_at for a in alerts) - settings.lookback)
        if time.monotonic() - last_sent >= settings.keepalive_s:
            last_sent = time.monotonic()
            yield b": keep-alive\n\n"
        await asyncio.sleep(settings.poll_s)
    yield sse_frame("end", json.dumps({"reason": reason}))
