"""Network camera settings, URL redaction, the FFmpeg options lock, and the RTSP probe.

The probe is checked here against scripted loopback servers (replies no real camera
gives on demand: a Digest challenge with ``qop``, an HTTP server, silence); the real RTSP
server is in ``test_rtsp_source.py``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from lineguard.config.edge import CameraConfig, RtspSource
from lineguard.config.loader import validate_config
from lineguard.config.secrets import DEMO_MODE_ENV
from lineguard.contracts.errors import ConfigError
from lineguard.edge.capture.rtsp_probe import diagnose_rtsp, parse_response
from lineguard.edge.capture.stream import open_ffmpeg
from lineguard.edge.capture.stream_url import redact_url, split_credentials, with_credentials


def _source(**settings: object) -> RtspSource:
    return RtspSource.model_validate({"type": "rtsp", "url": "rtsp://10.0.0.5/s", **settings})


def test_defaults_are_tcp_five_seconds_and_one_decoder_thread() -> None:
    source = _source()
    assert (source.transport, source.timeout_s, source.decoder_threads) == ("tcp", 5.0, 1)
    assert _source(transport="udp", timeout_s=0.5, decoder_threads=0).transport == "udp"


@pytest.mark.parametrize(
    "settings",
    [
        {"transport": "http"},
        {"timeout_s": 0.1},
        {"timeout_s": 121},
        {"decoder_threads": -1},
        {"decoder_threads": 17},
        {"reconnect_max_s": 0},
        {"url": "ftp://10.0.0.5/s"},
    ],
)
def test_out_of_bounds_settings_are_refused(settings: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        _source(**settings)


@pytest.mark.parametrize(
    "url",
    ["rtsp://admin:p@ss/word@10.0.0.5/s", "rtsp://admin:pa?ss@10.0.0.5/s", "rtsp://admin:pa#ss@10.0.0.5/s"],
)
def test_an_unencoded_password_is_refused_without_echoing_it(url: str, tmp_path: Path) -> None:
    camera = {
        "camera_id": "c",
        "station_id": "s",
        "model": str(tmp_path),
        "source": {"type": "rtsp", "url": url},
    }
    with pytest.raises(ConfigError) as caught:
        validate_config(CameraConfig, camera, source="edge.yaml")
    text = str(caught.value) + " ".join(caught.value.details or [])
    assert "percent-encode credentials" in text
    assert "word" not in text
    assert "pa?ss" not in text
    assert "pa#ss" not in text


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("rtsp://admin:secret@10.0.0.5/s", "rtsp://***@10.0.0.5/s"),
        ("rtsp://admin:p@ss@10.0.0.5:8554/s", "rtsp://***@10.0.0.5:8554/s"),
        ("rtsp://admin:p%40ss%3Aw%2Frd@10.0.0.5/s?x=1", "rtsp://***@10.0.0.5/s?x=1"),
        ("rtsp://a:b:c@cam.local/s", "rtsp://***@cam.local/s"),
        ("rtsps://only-user@[fe80::1]:322/live", "rtsps://***@[fe80::1]:322/live"),
        ("http://admin:pw@10.0.0.5/mjpeg", "http://***@10.0.0.5/mjpeg"),
        ("rtsp://10.0.0.5/s", "rtsp://10.0.0.5/s"),
        ("http://10.0.0.5/snap?a@b", "http://10.0.0.5/snap?a@b"),
    ],
)
def test_redaction_removes_the_whole_userinfo(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


def test_credentials_are_split_and_percent_decoded() -> None:
    assert split_credentials("rtsp://ad%20min:p%40ss%3Aw%25rd@h:1/s") == (
        "rtsp://h:1/s",
        "ad min",
        "p@ss:w%rd",
    )
    assert split_credentials("rtsp://user@h/s") == ("rtsp://h/s", "user", None)
    assert split_credentials("rtsp://h/s") == ("rtsp://h/s", None, None)


def test_ffmpeg_options_are_set_only_for_the_open_and_restored(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", "someone;else")
    errors: list[BaseException] = []

    def open_many(options: str) -> None:
        try:
            for _ in range(5):
                open_ffmpeg(str(tmp_path / "missing.mp4"), options, []).release()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_many, args=(f"rtsp_transport;{t}",)) for t in ("tcp", "udp")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] == "someone;else"
    monkeypatch.delenv("OPENCV_FFMPEG_CAPTURE_OPTIONS")
    open_ffmpeg(str(tmp_path / "missing.mp4"), None, []).release()
    assert "OPENCV_FFMPEG_CAPTURE_OPTIONS" not in os.environ


def test_a_reply_head_is_parsed() -> None:
    status, reason, headers = parse_response(
        b"RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\nWWW-Authenticate: Digest realm=x\r\n"
        b"WWW-Authenticate: Basic realm=x"
    )
    assert (status, reason) == (401, "Unauthorized")
    assert headers["www-authenticate"] == "Digest realm=x\nBasic realm=x"


@pytest.fixture
def scripted() -> Iterator[Callable[[Callable[[socket.socket], None]], int]]:
    """A loopback server that runs ``handle(connection)`` for each connection; returns its port."""
    servers: list[socket.socket] = []

    def start(handle: Callable[[socket.socket], None]) -> int:
        server = socket.create_server(("127.0.0.1", 0))
        servers.append(server)

        def serve() -> None:
            while True:
                try:
                    conn, _ = server.accept()
                except OSError:
                    return
                with conn:
                    conn.settimeout(30)
                    with contextlib.suppress(OSError):
                        handle(conn)

        threading.Thread(target=serve, daemon=True).start()
        return int(server.getsockname()[1])

    yield start
    for server in servers:
        server.close()


def _requests(conn: socket.socket) -> Iterator[str]:
    buffer = b""
    while True:
        while b"\r\n\r\n" not in buffer:
            chunk = conn.recv(4096)
            if not chunk:
                return
            buffer += chunk
        head, _, buffer = buffer.partition(b"\r\n\r\n")
        yield head.decode()


def test_digest_with_qop_is_answered_and_a_rejection_reported(scripted: Callable[..., int]) -> None:
    seen: list[str] = []

    def camera(conn: socket.socket) -> None:
        for request in _requests(conn):
            seen.append(request)
            cseq = request.split("CSeq: ")[1].split("\r\n")[0]
            conn.sendall(
                f"RTSP/1.0 401 Unauthorized\r\nCSeq: {cseq}\r\nWWW-Authenticate: "
                'Digest realm="cam", nonce="abc", qop="auth", algorithm=MD5\r\n\r\n'.encode()
            )

    port = scripted(camera)
    reason = diagnose_rtsp(f"rtsp://admin:s3cret%40@127.0.0.1:{port}/live", transport="tcp", timeout_s=10)
    assert reason == "credentials rejected by the camera (401 Unauthorized): check user and password"
    assert len(seen) == 2
    assert 'Digest username="admin", realm="cam", nonce="abc"' in seen[1]
    assert "qop=auth" in seen[1]
    assert "s3cret" not in "".join(seen)  # Digest sends a hash, never the password


def test_an_http_server_is_not_taken_for_a_camera(scripted: Callable[..., int]) -> None:
    def web(conn: socket.socket) -> None:
        for _ in _requests(conn):
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    port = scripted(web)
    reason = diagnose_rtsp(f"rtsp://127.0.0.1:{port}/live", transport="tcp", timeout_s=10)
    assert "is not answering as an RTSP server" in reason


def test_a_silent_server_is_reported_after_the_timeout() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # listens, never accepts or replies
        port = silent.getsockname()[1]
        reason = diagnose_rtsp(f"rtsp://127.0.0.1:{port}/live", transport="udp", timeout_s=0.5)
    assert reason == f"127.0.0.1:{port} accepted the connection but sent no RTSP reply within 0.5s"


def test_a_password_in_the_url_is_refused_outside_the_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DEMO_MODE_ENV, raising=False)
    with pytest.raises(ValidationError, match="a password in the URL is refused outside the demo"):
        _source(url="rtsp://admin:secret@10.0.0.5/s")
    assert _source(url="rtsp://viewer@10.0.0.5/s").credentials is None  # a user name alone is no secret
    monkeypatch.setenv(DEMO_MODE_ENV, "1")
    assert _source(url="rtsp://admin:secret@10.0.0.5/s").url == "rtsp://admin:secret@10.0.0.5/s"


def test_credentials_take_the_password_from_the_environment_or_a_file(tmp_path: Path) -> None:
    source = _source(credentials={"username": "inspector", "password": {"env": "CAM_PASSWORD"}})
    assert source.credentials is not None
    assert source.credentials.username == "inspector"
    assert source.credentials.password.env == "CAM_PASSWORD"
    from_file = _source(credentials={"username": "u", "password": {"file": str(tmp_path / "pw")}})
    assert from_file.credentials is not None
    with pytest.raises(ValidationError):
        _source(credentials={"username": "u", "password": "plain-text-password"})
    with pytest.raises(ValidationError):
        _source(credentials={"username": "", "password": {"env": "CAM_PASSWORD"}})
    with pytest.raises(ValidationError, match="credentials are given twice"):
        _source(url="rtsp://admin@10.0.0.5/s", credentials={"username": "u", "password": {"env": "P"}})


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("rtsp://10.0.0.5:554/s", "rtsp://in%40spector:p%40ss%3Aw%2F%23%3F@10.0.0.5:554/s"),
        ("http://old@10.0.0.5/mjpeg?x=1", "http://in%40spector:p%40ss%3Aw%2F%23%3F@10.0.0.5/mjpeg?x=1"),
    ],
)
def test_credentials_are_percent_encoded_into_the_url(url: str, expected: str) -> None:
    filled = with_credentials(url, "in@spector", "p@ss:w/#?")
    assert filled == expected
    assert split_credentials(filled)[1:] == ("in@spector", "p@ss:w/#?")
    assert "p%40ss" not in redact_url(filled)


def test_a_camera_dripping_its_reply_is_cut_off_at_the_timeout(scripted: Callable[..., int]) -> None:
    def dripping(conn: socket.socket) -> None:
        for _ in _requests(conn):
            for byte in b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nX-Padding: " + b"x" * 10_000:
                conn.sendall(bytes([byte]))
                time.sleep(0.05)

    port = scripted(dripping)
    reason = diagnose_rtsp(f"rtsp://127.0.0.1:{port}/live", transport="tcp", timeout_s=0.5)
    assert reason == f"127.0.0.1:{port} accepted the connection but sent no RTSP reply within 0.5s"


def test_a_camera_busy_for_a_moment_is_asked_again(scripted: Callable[..., int]) -> None:
    def busy_then_missing(conn: socket.socket) -> None:
        for n, request in enumerate(_requests(conn)):
            cseq = request.split("CSeq: ")[1].split("\r\n")[0]
            status = "503 Service Unavailable" if n < 2 else "404 Not Found"
            conn.sendall(f"RTSP/1.0 {status}\r\nCSeq: {cseq}\r\n\r\n".encode())

    port = scripted(busy_then_missing)
    reason = diagnose_rtsp(f"rtsp://127.0.0.1:{port}/live", transport="tcp", timeout_s=30)
    assert reason == "stream not found (404 Not Found for /live): check the path in the URL"


def test_a_path_beyond_ascii_is_asked_for_and_reported(scripted: Callable[..., int]) -> None:
    seen: list[str] = []

    def missing(conn: socket.socket) -> None:
        for request in _requests(conn):
            seen.append(request)
            conn.sendall(b"RTSP/1.0 404 Not Found\r\nCSeq: 1\r\n\r\n")

    port = scripted(missing)
    reason = diagnose_rtsp(f"rtsp://opérateur:mot@127.0.0.1:{port}/caméra-1", transport="tcp", timeout_s=30)
    assert reason == "stream not found (404 Not Found for /caméra-1): check the path in the URL"
    assert seen[0].startswith(f"DESCRIBE rtsp://127.0.0.1:{port}/caméra-1 RTSP/1.0")
