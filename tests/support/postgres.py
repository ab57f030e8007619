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
def postgres_cluster(settings: Mapping[str, str] | None = None, *, keep: Path | None = None) -> Iterator[str]:
    """Start a cluster; yield a libpq URL base ``postgresql+psycopg://user@127.0.0.1:PORT``.

    ``settings`` replace :data:`TEST_SETTINGS` (benchmarks run a durable cluster).
    ``keep``: the cluster lives in this folder and outlives the run (created on first
    use, started again by later runs) — benchmarks reuse a large generated database."""
    pg_bin = find_pg_bin()
    if pg_bin is None:
        raise RuntimeError("PostgreSQL server binaries not found; run `python3 dev.py test` to install them")
    root = Path(tempfile.mkdtemp(prefix="lineguard-pg-")) if keep is None else keep
    root.mkdir(parents=True, exist_ok=True)
    as_postgres = os.geteuid() == 0
    user = "postgres" if as_postgres else os.environ.get("USER", "postgres")
    kwargs: dict[str, object] = {"check": True, "capture_output": True}
    if as_postgres:
        shutil.chown(root, "postgres", "postgres")
        kwargs.update(user="postgres", group="postgres")
    port = _free_port()
    data = root / "data"
    if not (data / "PG_VERSION").exists():
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
        mode = "immediate" if keep is None else "fast"  # a kept cluster shuts down cleanly
        subprocess.run([str(pg_bin / "pg_ctl"), "-D", str(data), "-m", mode, "stop"], **kwargs)  # type: ignore[call-overload]
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)


class PostgresPair:
    """A primary and a streaming standby (``pg_basebackup -R``), synchronous replication.

    ``kill_primary()`` stops the primary the way a crash does (``-m immediate``);
    ``promote()`` makes the standby the primary. ``url`` names both hosts, primary
    first, with ``target_session_attrs=read-write``: libpq connects to whichever takes writes.
    """

    def __init__(self, root: Path, pg_bin: Path, user: str, run: dict[str, object]) -> None:
        self.root, self.pg_bin, self.user, self._run = root, pg_bin, user, run
        self.primary_port, self.standby_port = _free_port(), _free_port()
        self.primary_dir, self.standby_dir = root / "primary", root / "standby"

    def _pg(self, *args: str) -> None:
        subprocess.run([str(self.pg_bin / args[0]), *args[1:]], **self._run)  # type: ignore[call-overload]

    def _start(self, data: Path, port: int, log: str) -> None:
        opts = f"-p {port} -k {self.root} -c listen_addresses=127.0.0.1"
        self._pg("pg_ctl", "-D", str(data), "-o", opts, "-l", str(self.root / log), "-w", "start")

    def start(self) -> None:
        self._pg("initdb", "-D", str(self.primary_dir), "--auth=trust", "-U", self.user)
        with (self.primary_dir / "postgresql.conf").open("a") as conf:
            conf.write(
                "wal_level = replica\nmax_wal_senders = 4\nhot_standby = on\n"
                "synchronous_standby_names = 'standby1'\nsynchronous_commit = on\n"
            )
        with (self.primary_dir / "pg_hba.conf").open("a") as hba:
            hba.write("host replication all 127.0.0.1/32 trust\n")
        self._start(self.primary_dir, self.primary_port, "primary.log")
        self._pg(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary_port), "-U", self.user,
            "-D", str(self.standby_dir), "-R", "-X", "stream",
        )  # fmt: skip
        with (self.standby_dir / "postgresql.auto.conf").open("a") as conf:
            conf.write(
                f"primary_conninfo = 'host=127.0.0.1 port={self.primary_port} user={self.user} "
                "application_name=standby1'\n"
                # Promoted, it has no standby of its own: waiting for one would stall every commit.
                "synchronous_standby_names = ''\n"
            )
        self._start(self.standby_dir, self.standby_port, "standby.log")

    def kill_primary(self) -> None:
        self._pg("pg_ctl", "-D", str(self.primary_dir), "-m", "immediate", "stop")

    def promote(self) -> None:
        self._pg("pg_ctl", "-D", str(self.standby_dir), "-w", "promote")

    def url(self, database: str) -> str:
        hosts = f"host=127.0.0.1:{self.primary_port}&host=127.0.0.1:{self.standby_port}"
        return f"postgresql+psycopg://{self.user}@/{database}?{hosts}&target_session_attrs=read-write"

    def stop(self) -> None:
        for data in (self.primary_dir, self.standby_dir):
            subprocess.run(  # type: ignore[call-overload]
                [str(self.pg_bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                **{**self._run, "check": False},
            )


@contextlib.contextmanager
def postgres_pair() -> Iterator[PostgresPair]:
    """A primary with a synchronous streaming standby on loopback; both stopped at the end."""
    pg_bin = find_pg_bin()
    if pg_bin is None:
        raise RuntimeError("PostgreSQL server binaries not found; run `python3 dev.py test` to install them")
    root = Path(tempfile.mkdtemp(prefix="lineguard-pg-pair-"))
    as_postgres = os.geteuid() == 0
    user = "postgres" if as_postgres else os.environ.get("USER", "postgres")
    run: dict[str, object] = {"check": True, "capture_output": True}
    if as_postgres:
        shutil.chown(root, "postgres", "postgres")
        run.update(user="postgres", group="postgres")
    pair = PostgresPair(root, pg_bin, user, run)
    try:
        pair.start()
        yield pair
    finally:
        pair.stop()
        shutil.rmtree(root, ignore_errors=True)
