"""A real HAProxy (Debian's package) on loopback in front of server replicas, TLS passthrough.

``HAProxy(directory, backends)`` writes the configuration docs/deployment.md gives
(``mode tcp``: the balancer forwards TCP connections and never sees a key, so node mTLS
ends at LineGuard) with its health check, on a free port; ``start()`` runs
``/usr/sbin/haproxy`` in the foreground as a child process; ``stop()`` ends it.
``dev.py test`` installs the package when it is missing.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

__all__ = ["HAPROXY", "HAProxy"]

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class HAProxy:
    """TCP passthrough to ``backends`` (host, port), least connections, HTTPS health checks."""

    def __init__(self, directory: Path, backends: list[tuple[str, int]], *, check_ms: int = 300) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        servers = "\n".join(
            f"    server r{i} {host}:{port} check check-ssl verify none inter {check_ms} fall 1 rise 1"
            for i, (host, port) in enumerate(backends, start=1)
        )
        self.config = directory / "haproxy.cfg"
        self.config.write_text(
            f"""global
    maxconn 1000
defaults
    mode tcp
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    retries 3
    option redispatch
frontend lineguard
    bind 127.0.0.1:{self.port}
    default_backend replicas
backend replicas
    balance leastconn
    option httpchk GET /api/v1/enroll/ca
    http-check expect status 200
{servers}
"""
        )
        self.log = directory / "haproxy.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> HAProxy:
        subprocess.run([HAPROXY, "-c", "-f", str(self.config)], check=True, capture_output=True)
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [HAPROXY, "-db", "-f", str(self.config)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 60  # a wait for its port, generous under load
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            if self._process.poll() is not None:
                break
            time.sleep(0.05)
        msg = f"haproxy did not listen on {self.port}: {self.log.read_text()[-2000:]}"
        raise RuntimeError(msg)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None

    def __enter__(self) -> HAProxy:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
