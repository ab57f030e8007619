"""Start and abuse a real RTSP camera (``rtsp_server.py``) from tests and benchmarks.

The server is a subprocess of the system Python with Debian's GStreamer RTSP server
(``python3 dev.py test`` installs it, as it does PostgreSQL and Chromium); when that is
missing the test fails and says what to install rather than skipping silently.
:class:`RtspCamera` picks a free port, waits until the server answers, and can
``kill -9`` it, freeze it (``SIGSTOP``) and thaw it (``SIGCONT``), and start it again on
the same port.
"""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest

SYSTEM_PYTHON = "/usr/bin/python3"
SERVER_SCRIPT = Path(__file__).with_name("rtsp_server.py")
#: Must match rtsp_server.py.
STAMP_BITS = 40
STAMP_BLOCK = 16


def rtsp_server_missing() -> str | None:
    """Why the RTSP test camera cannot run here, or ``None`` when it can."""
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} is missing"
    probe = (
        "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import Gst, GstRtspServer;"
        " Gst.init(None);"
        " missing = [e for e in ('x264enc', 'rtph264pay', 'jpegenc', 'rtpjpegpay', 'videotestsrc', 'appsrc')"
        " if Gst.ElementFactory.find(e) is None];"
        " print(' '.join(missing))"
    )
    result = subprocess.run(
        [SYSTEM_PYTHON, "-c", probe], capture_output=True, text=True, check=False, timeout=60
    )
    if result.returncode != 0:
        return result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "probe failed"
    if result.stdout.strip():
        return f"GStreamer elements missing: {result.stdout.strip()}"
    return None


def require_rtsp_server() -> None:
    reason = rtsp_server_missing()
    if reason is not None:
        pytest.fail(
            f"RTSP tests need GStreamer's RTSP server under the system Python ({reason}); "
            "python3 dev.py test installs python3-gi, gir1.2-gst-rtsp-server-1.0 and the GStreamer plugins"
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RtspCamera:
    """One ``rtsp_server.py`` process; ``url(path)`` addresses its ``/h264`` or ``/jpeg`` mount."""

    def __init__(
        self,
        *,
        width: int = 320,
        height: int = 240,
        fps: int = 15,
        user: str = "",
        password: str = "",
        auth: str = "basic",
        protocols: str = "any",
        stamp: bool = False,
    ) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.user, self.password = user, password
        self.port = free_port()
        self.args = [
            SYSTEM_PYTHON,
            str(SERVER_SCRIPT),
            f"--port={self.port}",
            f"--width={width}",
            f"--height={height}",
            f"--fps={fps}",
            f"--auth={auth}",
            f"--protocols={protocols}",
        ]
        if user:
            self.args += [f"--user={user}", f"--password={password}"]
        if stamp:
            self.args.append("--stamp")
        self.process: subprocess.Popen[str] | None = None

    def url(self, mount: str = "h264", *, user: str | None = None, password: str | None = None) -> str:
        user = self.user if user is None else user
        password = self.password if password is None else password
        creds = f"{quote(user, safe='')}:{quote(password, safe='')}@" if user else ""
        return f"rtsp://{creds}127.0.0.1:{self.port}/{mount}"

    def start(self, timeout_s: float = 60.0) -> None:
        """Start the server (again, on the same port) and wait until it accepts connections."""
        # stderr to a file: a pipe nobody reads would fill up and freeze the server.
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=self._stderr, text=True)
        deadline = time.monotonic() + timeout_s
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # "READY <port>" once it listens, or EOF
        if not line.startswith("READY"):
            self.process.wait(timeout=30)
            self._stderr.seek(0)
            msg = f"RTSP test server did not start: {line!r} {self._stderr.read()[-2000:]}"
            raise RuntimeError(msg)
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        msg = f"RTSP test server on port {self.port} never accepted a connection"
        raise RuntimeError(msg)

    def kill(self) -> None:
        """``kill -9``: the camera vanishes without a goodbye (``start()`` brings it back)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._stderr.close()
        self.process = None

    def freeze(self) -> None:
        """``SIGSTOP``: connections stay open but nothing more arrives."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        self.kill()  # SIGKILL ends a stopped (SIGSTOP) process too

    def __enter__(self) -> RtspCamera:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def texture(length: int = 4096) -> bytes:
    """``rtsp_server.texture`` (a copy: the server runs under the system Python, without this module)."""
    return bytes(int(128 + 60 * math.sin(i / 9.0) + 25 * math.sin(i / 2.3)) for i in range(length))


def decode_stamp(image: np.ndarray) -> int:
    """The millisecond wall-clock stamp ``rtsp_server.py --stamp`` drew into a BGR frame."""
    gray = image[:STAMP_BLOCK, : STAMP_BITS * STAMP_BLOCK].mean(axis=2)
    centre = STAMP_BLOCK // 2
    value = 0
    for bit in range(STAMP_BITS):
        x = bit * STAMP_BLOCK + centre
        value = (value << 1) | int(gray[centre - 2 : centre + 2, x - 2 : x + 2].mean() > 128)
    return value
