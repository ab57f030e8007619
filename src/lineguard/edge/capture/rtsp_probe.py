"""Why an RTSP camera cannot be opened, in words an operator can act on.

FFmpeg (through OpenCV) only says that opening failed. When it does, the source asks the
camera itself, over a plain socket with a short timeout: one ``DESCRIBE`` (again with
credentials when the camera asks for them), and when the stream is described, one
``SETUP`` with the configured transport, then ``TEARDOWN``; connecting within the
camera's ``timeout_s`` and the whole conversation within another. The answer becomes the
camera's ``last_error`` and the log line: connection refused, no answer, 404 stream not
found, 401 credentials missing or rejected, 461 transport not offered, or "answers but
did not stream". Credentials never appear in what it returns.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from lineguard.edge.capture.stream_url import redact_url, split_credentials

__all__ = ["RtspResponse", "converse", "diagnose_rtsp", "parse_response"]

_MAX_HEAD_BYTES = 16_384
_MAX_BODY_BYTES = 65_536
_USER_AGENT = "LineGuard-edge"
#: SETUP's Transport header per configured transport; the UDP ports are never bound (no PLAY).
_TRANSPORTS = {
    "tcp": "RTP/AVP/TCP;unicast;interleaved=0-1",
    "udp": "RTP/AVP;unicast;client_port=50000-50001",
}


@dataclass(frozen=True, slots=True)
class RtspResponse:
    """Status, lower-cased headers (repeated ones joined by ``\\n``) and body of one reply."""

    status: int
    reason: str
    headers: dict[str, str]
    body: bytes


class _ProtocolError(Exception):
    pass


def parse_response(head: bytes) -> tuple[int, str, dict[str, str]]:
    """Status line and headers of an RTSP reply head (without the blank line)."""
    lines = head.decode("latin-1").split("\r\n")
    match = re.fullmatch(r"RTSP/\d\.\d (\d{3})(?: (.*))?", lines[0])
    if match is None:
        msg = f"not an RTSP reply: {lines[0][:60]!r}"
        raise _ProtocolError(msg)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            continue
        key = name.strip().lower()
        headers[key] = f"{headers[key]}\n{value.strip()}" if key in headers else value.strip()
    return int(match.group(1)), (match.group(2) or "").strip(), headers


class _Connection:
    """Requests and replies on one socket, all of them within one ``deadline`` (monotonic)."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock, self.deadline = sock, deadline
        self.cseq = 0
        self.buffer = b""

    def request(self, method: str, url: str, headers: dict[str, str]) -> RtspResponse:
        self.cseq += 1
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {self.cseq}", f"User-Agent: {_USER_AGENT}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())  # UTF-8, as RTSP/1.0 allows
        while b"\r\n\r\n" not in self.buffer:
            self._fill(_MAX_HEAD_BYTES)
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        status, reason, reply_headers = parse_response(head)
        length_text = reply_headers.get("content-length", "0").strip() or "0"
        if not length_text.isdigit() or int(length_text) > _MAX_BODY_BYTES:
            msg = f"reply body length {length_text[:20]!r}"
            raise _ProtocolError(msg)
        length = int(length_text)
        while len(self.buffer) < length:
            self._fill(_MAX_HEAD_BYTES + _MAX_BODY_BYTES)
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return RtspResponse(status, reason, reply_headers, body)

    def describe(self, url: str, headers: dict[str, str]) -> RtspResponse:
        """``DESCRIBE``, asked again while the camera is briefly busy (503) and time is left.

        A camera (GStreamer's server among them) answers 503 for a moment after a client
        left, which is just when the probe asks: right after FFmpeg gave up.
        """
        pause_s = 0.1
        reply = self.request("DESCRIBE", url, headers)
        while reply.status == 503 and time.monotonic() + pause_s < self.deadline:
            time.sleep(pause_s)
            pause_s *= 2
            reply = self.request("DESCRIBE", url, headers)
        return reply

    def _fill(self, limit: int) -> None:
        # One budget for the whole conversation: a camera dripping a byte at a time
        # cannot hold the capture worker longer than the timeout.
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        self.sock.settimeout(remaining)
        chunk = self.sock.recv(4096)
        if not chunk:
            msg = "the camera closed the connection mid-reply"
            raise _ProtocolError(msg)
        self.buffer += chunk
        if len(self.buffer) > limit:
            msg = "reply too large"
            raise _ProtocolError(msg)


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _authorization(challenges: str, method: str, url: str, user: str, password: str) -> str | None:
    """The ``Authorization`` header answering the camera's strongest supported challenge."""
    for challenge in challenges.split("\n"):
        scheme, _, params_text = challenge.strip().partition(" ")
        if scheme.lower() != "digest":
            continue
        params = dict(re.findall(r'(\w+)="?([^",]*)"?', params_text))
        if params.get("algorithm", "MD5").upper() != "MD5":
            continue
        realm, nonce = params.get("realm", ""), params.get("nonce", "")
        ha1, ha2 = _md5(f"{user}:{realm}:{password}"), _md5(f"{method}:{url}")
        fields = f'username="{user}", realm="{realm}", nonce="{nonce}", uri="{url}"'
        if "auth" in params.get("qop", "").split(","):
            cnonce = os.urandom(8).hex()
            response = _md5(f"{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}")
            return f'Digest {fields}, qop=auth, nc=00000001, cnonce="{cnonce}", response="{response}"'
        return f'Digest {fields}, response="{_md5(f"{ha1}:{nonce}:{ha2}")}"'
    if any(c.strip().lower().startswith("basic") for c in challenges.split("\n")):
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    return None


def _first_control(body: bytes, base: str) -> str:
    """The control URL of the SDP's first media section (``base`` when there is none)."""
    in_media = False
    for line in body.decode("latin-1").splitlines():
        if line.startswith("m="):
            in_media = True
        elif in_media and line.startswith("a=control:"):
            control = line[len("a=control:") :].strip()
            if control == "*":
                return base
            return control if "://" in control else urljoin(base.rstrip("/") + "/", control)
    return base


def _connect(host: str, port: int, *, tls: bool, timeout_s: float) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=timeout_s)
    if tls:
        return ssl.create_default_context().wrap_socket(sock, server_hostname=host)
    return sock


def diagnose_rtsp(url: str, *, transport: str, timeout_s: float) -> str:
    """A one-line reason why ``url`` does not stream (never containing its credentials)."""
    parts = urlsplit(split_credentials(url)[0])
    host = parts.hostname or ""
    try:
        port = parts.port or (322 if parts.scheme == "rtsps" else 554)
    except ValueError:
        return f"the URL's port is not a number: {redact_url(url)}"
    where = f"{host}:{port}"
    try:
        sock = _connect(host, port, tls=parts.scheme == "rtsps", timeout_s=timeout_s)
    except ConnectionRefusedError:
        return f"connection refused by {where} (no RTSP server listens there)"
    except TimeoutError:
        return f"no connection to {where} within {timeout_s:g}s"
    except socket.gaierror:
        return f"cannot resolve host {host!r}"
    except ssl.SSLError as exc:
        return f"TLS with {where} failed: {exc.reason or exc}"
    except OSError as exc:
        return f"cannot connect to {where}: {exc.strerror or exc}"
    with sock:
        return converse(sock, url, transport=transport, where=where, timeout_s=timeout_s)


def converse(sock: socket.socket, url: str, *, transport: str, where: str, timeout_s: float) -> str:
    """Ask the camera on the connected ``sock`` why ``url`` does not stream; never raises."""
    bare, user, password = split_credentials(url)
    try:
        return _ask(_Connection(sock, time.monotonic() + timeout_s), bare, user, password, transport)
    except TimeoutError:
        return f"{where} accepted the connection but sent no RTSP reply within {timeout_s:g}s"
    except _ProtocolError as exc:
        return f"{where} is not answering as an RTSP server ({exc})"
    except OSError as exc:
        return f"connection to {where} failed: {exc.strerror or exc}"


def _ask(conn: _Connection, url: str, user: str | None, password: str | None, transport: str) -> str:
    path = redact_url(url).split("://", 1)[1].partition("/")[2]
    reply = conn.describe(url, {"Accept": "application/sdp"})
    challenges = ""
    if reply.status == 401:
        challenges = reply.headers.get("www-authenticate", "")
        if user is None:
            return "the camera requires credentials (401 Unauthorized) and none are configured"
        authorization = _authorization(challenges, "DESCRIBE", url, user, password or "")
        if authorization is None:
            return "the camera asks for an authentication scheme LineGuard does not speak (401)"
        reply = conn.describe(url, {"Accept": "application/sdp", "Authorization": authorization})
        if reply.status == 401:
            return "credentials rejected by the camera (401 Unauthorized): check user and password"
    if reply.status == 404:
        return f"stream not found (404 Not Found for /{path}): check the path in the URL"
    if reply.status != 200:
        return f"the camera answered DESCRIBE with {reply.status} {reply.reason}".rstrip()
    control = _first_control(reply.body, reply.headers.get("content-base", url))
    headers = {"Transport": _TRANSPORTS[transport]}
    if challenges and user is not None:
        headers["Authorization"] = _authorization(challenges, "SETUP", control, user, password or "") or ""
    setup = conn.request("SETUP", control, headers)
    if setup.status == 461:
        return f"transport {transport} not offered by the camera (461 Unsupported Transport)"
    if setup.status != 200:
        return f"the camera answered SETUP ({transport}) with {setup.status} {setup.reason}".rstrip()
    session = setup.headers.get("session", "").split(";", 1)[0]
    if session:
        headers = {"Session": session}
        if challenges and user is not None:
            headers["Authorization"] = _authorization(challenges, "TEARDOWN", url, user, password or "") or ""
        with contextlib.suppress(OSError, _ProtocolError):
            conn.request("TEARDOWN", url, headers)
    return f"the camera describes the stream and accepts {transport}, yet FFmpeg could not open it"
