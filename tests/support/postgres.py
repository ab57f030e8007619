"""A throwaway PostgreSQL cluster for tests: real server, loopback only, fsync off.

``initdb`` refuses to run as root, so when we are root the cluster is owned by the
``postgres`` system user that Debian's package creates.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path


def find_pg_bin() -> Path | None:
    env = os.environ.get("LINEGUARD_PG_BIN")
    if env:
        return Path(env)
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    if candidates:
        return candidates[0].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: Tests trade durability for speed: a throwaway cluster need not survive a crash.
TEST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


@contextlib.contextmanager
def postgres_cluster(settings: Mapping[str, str] | None = None) -> Iterator[str]:
    """Start a cluster; yield a libpq URL base ``postgresql+psycopg://user@127.0.0.1:PORT``.

    ``settings`` replace :data:`TEST_SETTINGS` (benchmarks run a durable cluster)."""
    pg_bin = find_pg_bin()
    if pg_bin is None:
        raise RuntimeError("PostgreSQL server binaries not found; run `python3 dev.py test` to install them")
    root = Path(tempfile.mkdtemp(prefix="lineguard-pg-"))
    as_postgres = os.geteuid() == 0
    user = "postgres" if as_postgres else os.environ.get("USER", "postgres")
    kwargs: dict[str, object] = {"check": True, "capture_output": True}
    if as_postgres:
        shutil.chown(root, "postgres", "postgres")
        kwargs.update(user="postgres", group="postgres")
    port = _free_port()
    data = root / "data"
    subprocess.run([str(pg_bin / "initdb"), "-D", str(data), "--auth=trust", "-U", user], **kwargs)  # type: ignore[call-overload]
    chosen = TEST_SETTINGS if settings is None else settings
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1" + "".join(
        f" -c {name}={value}" for name, value in chosen.items()
    )
    subprocess.run(  # type: ignore[call-overload]
        [str(pg_bin / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start"],
        **kwargs,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield f"postgresql+psycopg://{user}@127.0.0.1:{port}"
    finally:
        subprocess.run([str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], **kwargs)  # type: ignore[call-overload]
        shutil.rmtree(root, ignore_errors=True)
