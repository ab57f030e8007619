"""A real Mosquitto broker on loopback for the tests, with TLS and required client certificates.

``Mosquitto(tmp, ca)`` writes a config (TLS listener on a free port, client
certificates required and used as the user name, no persistence unless asked, an ACL
if given) and ``start()`` runs
``/usr/sbin/mosquitto``; ``stop()`` terminates it and ``start()`` again brings it back on
the same port — a broker restart.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.support.test_pki import Leaf, TestCa

__all__ = ["MOSQUITTO", "Mosquitto"]

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Mosquitto:
    """``acl``: the text of an ACL file (topic rules per certificate name); ``persistence``:
    QoS 1 messages and sessions survive a restart; ``client_cas``: more CAs whose client
    certificates are accepted (the plant CA, for nodes)."""

    def __init__(
        self,
        directory: Path,
        ca: TestCa,
        *,
        host_name: str = "broker.ot.test",
        acl: str | None = None,
        persistence: bool = False,
        client_cas: tuple[Path, ...] = (),
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.ca = ca
        leaf = ca.issue([host_name, "127.0.0.1"], stem="broker")
        cafile = ca.cert_path
        if client_cas:
            cafile = directory / "client-cas.pem"
            cafile.write_bytes(b"".join(p.read_bytes() for p in (ca.cert_path, *client_cas)))
        extra = []
        if acl is not None:
            (directory / "acl").write_text(acl)
            extra.append(f"acl_file {directory / 'acl'}")
        if persistence:
            extra += ["persistence true", f"persistence_location {directory}/", "autosave_interval 1"]
        else:
            extra.append("persistence false")
        self.config = directory / "mosquitto.conf"
        self.config.write_text(
            "\n".join(
                [
                    f"listener {self.port} 127.0.0.1",
                    f"cafile {cafile}",
                    f"certfile {leaf.cert}",
                    f"keyfile {leaf.key}",
                    "require_certificate true",
                    "use_identity_as_username true",
                    "allow_anonymous false",
                    *extra,
                    "log_dest none",
                    # As root, mosquitto would drop to its own user, who cannot read pytest's 0700 temp dirs.
                    *(["user root"] if os.geteuid() == 0 else []),
                    "",
                ]
            )
        )
        self._process: subprocess.Popen[bytes] | None = None

    def client_leaf(self, name: str) -> Leaf:
        return self.ca.issue([name], stem=f"client-{name}", client=True)

    def start(self) -> None:
        self._process = subprocess.Popen([MOSQUITTO, "-c", str(self.config)])
        deadline = time.monotonic() + 60  # a wait for the broker's port, generous under load
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if self._process.poll() is not None:
                    break  # it exited (its config refused): no use waiting for the port
                time.sleep(0.05)
        self.stop()
        msg = f"mosquitto did not listen on port {self.port}"
        raise RuntimeError(msg)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(10)
            self._process = None
