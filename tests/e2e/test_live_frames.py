"""The live alert stream's generator on its own: each alert once, oldest first, keep-alives,
and an ``end`` event when the reader's session is no longer good or the lifetime is up."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from lineguard.server.dashboard.live import LiveSettings, alert_frames, sse_frame
from lineguard.server.query.schemas import AlertView

T0 = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
FAST = LiveSettings(poll_s=0.001, recheck_s=0.0, keepalive_s=0.0, lifetime_s=0.2)


def alert(n: int, message: str = "scratch") -> AlertView:
    return AlertView(
        alert_id=f"alr_{n}",
        node_id="edge-l1",
        line_id="line-1",
        camera_id="cam-1",
        kind="defect",
        severity="warning",
        raised_at=T0 + timedelta(seconds=n),
        message=message,
        defect_class="scratch",
    )


async def _connected() -> bool:
    return False


def collect(fetch, recheck, settings: LiveSettings = FAST, limit: int = 200) -> list[bytes]:  # type: ignore[no-untyped-def]
    async def run() -> list[bytes]:
        out = []
        async for frame in alert_frames(
            fetch=fetch, recheck=recheck, is_disconnected=_connected, settings=settings, started=T0
        ):
            out.append(frame)
            if len(out) >= limit:
                break
        return out

    # A thread of its own: Playwright's sync API keeps an event loop on the main thread
    # when the browser tests run in the same session.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


def events(frames: list[bytes]) -> list[tuple[str, str]]:
    found = []
    for frame in frames:
        lines = frame.decode().splitlines()
        kind = next((line.removeprefix("event: ") for line in lines if line.startswith("event: ")), None)
        data = next((line.removeprefix("data: ") for line in lines if line.startswith("data: ")), "")
        if kind:
            found.append((kind, data))
    return found


def test_each_alert_is_sent_once_oldest_first_until_the_lifetime_ends() -> None:
    polls = [[alert(2), alert(1)], [alert(3), alert(2), alert(1)], []]

    def fetch(since: datetime) -> list[AlertView]:
        return polls.pop(0) if polls else []

    got = events(collect(fetch, lambda: True))
    alerts = [json.loads(d)["alert_id"] for kind, d in got if kind == "alert"]
    assert alerts == ["alr_1", "alr_2", "alr_3"]
    assert got[-1] == ("end", json.dumps({"reason": "lifetime"}))


def test_a_session_that_is_no_longer_good_ends_the_stream_before_any_data() -> None:
    fetched = []

    def fetch(since: datetime) -> list[AlertView]:
        fetched.append(since)
        return [alert(1)]

    got = events(collect(fetch, lambda: False))
    assert got == [("end", json.dumps({"reason": "signed_out"}))]
    assert fetched == []


def test_a_failing_recheck_counts_as_signed_out() -> None:
    def broken() -> bool:
        msg = "database gone"
        raise RuntimeError(msg)

    assert events(collect(lambda since: [], broken))[-1][1] == json.dumps({"reason": "signed_out"})


def test_keepalives_flow_while_nothing_happens() -> None:
    frames = collect(lambda since: [], lambda: True, limit=5)
    assert frames[0] == b"retry: 3000\n\n"
    assert b": keep-alive\n\n" in frames


def test_a_message_cannot_inject_sse_fields() -> None:
    hostile = alert(1, message="x\n\nevent: end\ndata: {}")
    frame = sse_frame("alert", hostile.model_dump_json(), event_id=hostile.alert_id)
    assert frame.count(b"\n\n") == 1 and frame.endswith(b"\n\n")
    assert events([frame]) == [("alert", hostile.model_dump_json())]
