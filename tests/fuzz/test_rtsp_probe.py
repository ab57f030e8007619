"""Fuzz the RTSP probe: whatever a "camera" replies, the probe returns a reason, never raises."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from lineguard.edge.capture.rtsp_probe import converse

URL = "rtsp://admin:pw@10.0.0.5:554/live"


class ScriptedSocket:
    """Answers every request with the next scripted chunks, then closes."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = list(chunks)
        self.sent = b""

    def settimeout(self, timeout_s: float) -> None:
        pass

    def sendall(self, data: bytes) -> None:
        self.sent += data

    def recv(self, size: int) -> bytes:
        if not self.chunks:
            return b""
        chunk = self.chunks.pop(0)
        if len(chunk) > size:
            self.chunks.insert(0, chunk[size:])
            chunk = chunk[:size]
        return chunk


_status = st.sampled_from([b"200 OK", b"401 Unauthorized", b"404 Not Found", b"461 x", b"999", b"abc"])
_header = st.sampled_from(
    [
        b"Content-Length: 5",
        b"Content-Length: -1",
        b"Content-Length: x",
        b"Content-Length: 99999999",
        b'WWW-Authenticate: Digest realm="r", nonce="n", qop="auth"',
        b"WWW-Authenticate: Digest algorithm=SHA-256",
        b"WWW-Authenticate: Basic realm=x",
        b"WWW-Authenticate: ",
        b"Session: 12;timeout=60",
        b"Content-Base: rtsp://10.0.0.5/live/",
        b"garbage",
    ]
)
_reply = st.builds(
    lambda status, headers, body: (
        b"RTSP/1.0 " + status + b"\r\n" + b"\r\n".join(headers) + b"\r\n\r\n" + body
    ),
    _status,
    st.lists(_header, max_size=4),
    st.one_of(st.just(b"v=0\r\nm=video 0 RTP/AVP 96\r\na=control:track1\r\n"), st.binary(max_size=40)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_reply, st.binary(max_size=200)), max_size=5), st.sampled_from(["tcp", "udp"]))
def test_any_reply_gives_a_reason_without_the_password(chunks: list[bytes], transport: str) -> None:
    sock = ScriptedSocket(chunks)
    reason = converse(sock, URL, transport=transport, where="10.0.0.5:554", timeout_s=1)  # type: ignore[arg-type]
    assert isinstance(reason, str)
    assert reason
    assert "pw@" not in reason
