"""RTSP cameras against a real RTSP server (GStreamer's, see ``rtsp_server.py``).

H.264 and RTP/JPEG over TCP and UDP, credentials (Basic and Digest) that never reach a
log, the reason a camera cannot be opened (refused, 404, 401, transport not offered),
reconnecting with backoff after ``kill -9``, a frozen camera (``SIGSTOP``) noticed and
recovered from, and a whole node inspecting an RTSP camera. Nothing asserts a duration:
waits are generous deadlines, and the backoff is read from what the source recorded.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from lineguard.config.edge import RtspSource
from lineguard.config.secrets import DEMO_MODE_ENV
from lineguard.contracts.errors import InputError
from lineguard.contracts.events import InspectionEvent
from lineguard.contracts.types import CapturedFrame, SourceState
from lineguard.crypto import KdfParams
from lineguard.edge.app import EdgeNode
from lineguard.edge.capture import StreamFrameSource
from lineguard.edge.infer import StaticRunner
from lineguard.edge.redact import FakeRedactor
from tests.unit.edge.rtsp_camera import STAMP_BITS, RtspCamera, decode_stamp, free_port, require_rtsp_server
from tests.unit.edge.support import camera, edge_config

#: Generous: the machine running the suite may be loaded.
DEADLINE_S = 45.0


@functools.cache
def _server_checked() -> bool:
    require_rtsp_server()
    return True


@pytest.fixture
def cameras() -> Iterator[Callable[..., RtspCamera]]:
    """Starts RTSP cameras for one test and stops every one of them afterwards."""
    _server_checked()
    started: list[RtspCamera] = []

    def start(**kwargs: Any) -> RtspCamera:
        cam = RtspCamera(**kwargs)
        started.append(cam)
        cam.start()
        return cam

    yield start
    for cam in started:
        cam.stop()


@pytest.fixture
def sources() -> Iterator[Callable[..., StreamFrameSource]]:
    opened: list[StreamFrameSource] = []

    def make(url: str, **settings: Any) -> StreamFrameSource:
        source = StreamFrameSource("cam-1", RtspSource(type="rtsp", url=url, **settings))
        opened.append(source)
        source.open()
        return source

    yield make
    for source in opened:
        source.close()


def _frames(source: StreamFrameSource, count: int) -> list[CapturedFrame]:
    frames: list[CapturedFrame] = []
    deadline = time.monotonic() + DEADLINE_S
    while len(frames) < count and time.monotonic() < deadline:
        frame = source.read()
        if frame is not None:
            frames.append(frame)
    assert len(frames) == count, f"{len(frames)} of {count} frames; state {source.state}: {source.last_error}"
    return frames


def _until(source: StreamFrameSource, done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not done():
        assert time.monotonic() < deadline, f"not reached; state {source.state}: {source.last_error}"
        source.read()


@pytest.mark.parametrize(("mount", "transport"), [("h264", "tcp"), ("jpeg", "tcp"), ("h264", "udp")])
def test_frames_arrive_with_the_cameras_size(cameras: Any, sources: Any, mount: str, transport: str) -> None:
    cam = cameras(width=320, height=240)
    source = sources(cam.url(mount), transport=transport, timeout_s=10)
    frames = _frames(source, 5)
    assert {f.image.shape for f in frames} == {(240, 320, 3)}
    assert [f.frame_id for f in frames] == [0, 1, 2, 3, 4]
    assert source.state is SourceState.STREAMING
    assert source.last_error is None
    assert list(source.retry_delays_s) == []


@pytest.mark.parametrize("mount", ["h264", "jpeg"])
def test_the_benchmarks_time_stamp_survives_encoding(cameras: Any, sources: Any, mount: str) -> None:
    cam = cameras(width=640, height=480, stamp=True)
    frames = _frames(sources(cam.url(mount), timeout_s=10), 3)
    now_ms = int(time.time() * 1000) % (1 << STAMP_BITS)
    for frame in frames:  # a wrongly read bit would be off by far more than a minute
        assert abs(now_ms - decode_stamp(frame.image)) < 60_000


def test_rtp_jpeg_over_udp(cameras: Any, sources: Any) -> None:
    cam = cameras(width=160, height=120, protocols="udp")
    frames = _frames(sources(cam.url("jpeg"), transport="udp", timeout_s=10), 3)
    assert frames[0].image.shape == (120, 160, 3)


def test_a_transport_the_camera_does_not_offer_is_named(cameras: Any, sources: Any) -> None:
    cam = cameras(protocols="udp")
    source = sources(cam.url("h264"), transport="tcp", timeout_s=10)
    assert source.state is SourceState.RECONNECTING
    assert source.last_error is not None
    assert "transport tcp not offered" in source.last_error
    assert "461" in source.last_error


def test_a_wrong_path_is_reported_as_stream_not_found(cameras: Any, sources: Any) -> None:
    cam = cameras()
    source = sources(cam.url("no-such-stream"), timeout_s=10)
    assert source.state is SourceState.RECONNECTING
    assert source.last_error is not None
    assert "stream not found (404" in source.last_error
    assert "/no-such-stream" in source.last_error


def test_a_port_nobody_listens_on_is_reported_as_refused(sources: Any) -> None:
    source = sources(f"rtsp://127.0.0.1:{free_port()}/h264", timeout_s=10)
    assert source.state is SourceState.RECONNECTING
    assert source.last_error is not None
    assert "connection refused" in source.last_error


PASSWORD = "p@ss:w%rd/#?"


def _secret_forms(password: str) -> list[str]:
    return [password, quote(password, safe=""), quote(password)]


def _credentials(password_env: str) -> dict[str, Any]:
    return {"username": "inspector", "password": {"env": password_env}}


@pytest.mark.parametrize("auth", ["basic", "digest"])
def test_credentials_work_and_never_reach_logs(
    cameras: Any, sources: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, auth: str
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("CAM_PASSWORD", PASSWORD)
    monkeypatch.setenv("CAM_WRONG_PASSWORD", "not-" + PASSWORD)
    cam = cameras(user="inspector", password=PASSWORD, auth=auth)
    url = cam.url("h264", user="")
    good = sources(url, timeout_s=10, credentials=_credentials("CAM_PASSWORD"))
    _frames(good, 3)
    assert good.target == url

    wrong = sources(url, timeout_s=10, credentials=_credentials("CAM_WRONG_PASSWORD"))
    assert wrong.state is SourceState.RECONNECTING
    assert wrong.last_error is not None
    assert "credentials rejected by the camera (401" in wrong.last_error

    missing = sources(url, timeout_s=10)
    assert missing.last_error is not None
    assert "requires credentials (401" in missing.last_error

    assert f"camera cam-1 ({url})" in caplog.text
    reported = caplog.text + repr([list(s.transitions) for s in (good, wrong, missing)])
    for secret in _secret_forms(PASSWORD):
        assert secret not in reported


def test_in_the_demo_a_password_in_the_url_works_and_is_redacted(
    cameras: Any, sources: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DEMO_MODE_ENV, "1")
    cam = cameras(user="inspector", password=PASSWORD)
    source = sources(cam.url("h264"), timeout_s=10)
    _frames(source, 2)
    assert source.target == f"rtsp://***@127.0.0.1:{cam.port}/h264"
    wrong = sources(cam.url("h264", password="x" + PASSWORD), timeout_s=10)
    assert wrong.last_error is not None
    assert "credentials rejected" in wrong.last_error
    assert f"rtsp://***@127.0.0.1:{cam.port}/h264" in caplog.text
    for secret in _secret_forms(PASSWORD):
        assert secret not in caplog.text


def test_a_missing_password_secret_fails_the_camera_naming_where_it_was_looked_for(
    sources: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CAM_PASSWORD_NOT_SET", raising=False)
    with pytest.raises(InputError, match="CAM_PASSWORD_NOT_SET"):
        sources(f"rtsp://127.0.0.1:{free_port()}/h264", credentials=_credentials("CAM_PASSWORD_NOT_SET"))


def test_kill_9_then_restart_reconnects_with_backoff(cameras: Any, sources: Any) -> None:
    cam = cameras()
    source = sources(cam.url("h264"), timeout_s=10, reconnect_max_s=2)
    _frames(source, 3)
    cam.kill()
    _until(source, lambda: len(source.retry_delays_s) >= 4)
    assert source.state is SourceState.RECONNECTING
    assert source.last_error is not None
    assert "connection refused" in source.last_error
    cam.start()  # same port: the camera comes back
    _frames(source, 3)

    assert list(source.retry_delays_s)[:4] == [0.5, 1.0, 2.0, 2.0]
    assert all(delay <= 2.0 for delay in source.retry_delays_s)
    states = [state for state, _ in source.transitions]
    assert states[0] is SourceState.STREAMING
    assert states[1] is SourceState.RECONNECTING
    assert states[-1] is SourceState.STREAMING
    assert source.reconnects >= 4
    reasons = [reason for _, reason in source.transitions if reason]
    assert any("connection refused" in r for r in reasons)


def test_backoff_starts_again_from_the_beginning_after_a_recovery(cameras: Any, sources: Any) -> None:
    cam = cameras()
    source = sources(cam.url("h264"), timeout_s=10, reconnect_max_s=2)
    _frames(source, 2)
    for _ in range(2):
        cam.kill()
        before = len(source.retry_delays_s)
        _until(source, lambda before=before: len(source.retry_delays_s) >= before + 2)
        cam.start()
        _frames(source, 2)
    delays = list(source.retry_delays_s)
    restarts = [i for i, delay in enumerate(delays) if delay == 0.5]
    assert len(restarts) == 2
    assert delays[restarts[1] - 1] > 0.5  # it had grown before the recovery reset it


def test_a_frozen_camera_is_noticed_as_stalled_then_recovers(cameras: Any, sources: Any) -> None:
    cam = cameras()
    source = sources(cam.url("h264"), timeout_s=3, reconnect_max_s=1)
    _frames(source, 3)
    cam.freeze()
    try:
        _until(source, lambda: source.state is SourceState.RECONNECTING)
        assert source.last_error == "no frame for 3s: the camera stalled"
        # Reconnecting to a frozen server: it accepts the connection, never replies.
        _until(source, lambda: "sent no RTSP reply" in (source.last_error or ""))
    finally:
        cam.thaw()
    _frames(source, 3)
    assert source.state is SourceState.STREAMING
    assert source.last_error is None


@pytest.mark.usefixtures("kek_env")
def test_a_node_inspects_an_rtsp_camera(cameras: Any, tmp_path: Path) -> None:
    cam = cameras(width=320, height=240)
    source = {"type": "rtsp", "url": cam.url("h264"), "timeout_s": 10}
    config = edge_config(tmp_path / "data", [camera("cam-rtsp", tmp_path / "model", source)])
    node = EdgeNode(
        config,
        kdf=KdfParams.insecure_for_tests(),
        redactor=FakeRedactor(),
        runners={"cam-rtsp": StaticRunner(threshold=0.5, score=0.1)},
    )
    node.start()
    try:
        deadline = time.monotonic() + DEADLINE_S
        while node.stats["cam-rtsp"].frames_inspected < 5:
            assert time.monotonic() < deadline, node.stats["cam-rtsp"]
            time.sleep(0.05)
        assert node.stats["cam-rtsp"].state == "streaming"
        events = [
            InspectionEvent.model_validate_json(item.body)
            for item in node.outbox.pending(1000)
            if item.kind == "event"
        ]
        assert len(events) >= 5
        assert {e.camera_id for e in events} == {"cam-rtsp"}
    finally:
        node.close()
