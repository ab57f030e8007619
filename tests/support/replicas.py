"""Server replicas for multi-replica tests: a shared server.yaml per port, started as real processes.

``replica_config`` writes the configuration every replica of a test shares but for the
port (one ``data_dir``, one PostgreSQL, ``http.replicas``); ``start_replica`` runs
``lineguard server`` with it as a child process and waits until it answers over HTTPS,
so a test can SIGKILL it as a crash would. ``running_replicas`` does all of it for a
plant of several replicas: CA and keyring made as ``ca init`` and ``keys init`` make them,
the replicas started one after the other (the first migrates), stopped at the end.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from lineguard.config import load_server_config
from lineguard.config.server import ServerConfig
from lineguard.server.admin import init_ca
from tests.support.server_yaml import plant_server_config
from tests.unit.crypto.conftest import make_test_keyring

__all__ = [
    "CHEAP_AUTH",
    "ReplicaSet",
    "free_port",
    "replica_config",
    "running_replicas",
    "start_replica",
    "start_replica_process",
]

#: Sign-in hashing a test or bench can afford many times, and no per-minute lock-out.
CHEAP_AUTH = {
    "auth": {
        "argon2_time_cost": 1,
        "argon2_memory_kib": 8,
        "argon2_parallelism": 1,
        "login_attempts_per_minute": 10_000,
    }
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def replica_config(
    tmp_path: Path, postgres_url: str, port: int, *, replicas: int = 2, sections: dict[str, Any] | None = None
) -> Path:
    path = tmp_path / f"server-{port}.yaml"
    path.write_text(
        yaml.safe_dump(
            plant_server_config(
                tmp_path / "shared-data",
                **{
                    "http": {"host": "127.0.0.1", "port": port, "replicas": replicas},
                    "database": {"url": postgres_url},
                    **(sections or {}),  # a test's own ``http`` replaces this one whole
                },
            )
        )
    )
    return path


def start_replica(config: Path, port: int, log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``lineguard server --config config`` as a child process, once it answers on ``port``."""
    process = start_replica_process(config, log, env, port=port)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            with httpx.Client(verify=False, timeout=2) as client:
                if client.get(f"https://127.0.0.1:{port}/api/v1/enroll/ca").status_code == 200:
                    return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    pytest.fail(f"replica on {port} did not start: {log.read_text()[-3000:]}")


def start_replica_process(
    config: Path, log: Path, env: dict[str, str], *, port: int | None = None
) -> subprocess.Popen[bytes]:
    """``lineguard server --config config`` started (not waited for), its output in ``log``.

    Its replica id is ``test-replica-<port>`` unless ``env`` names one: the replicas of a
    test share a host name and a data_dir, so the id kept there would be the same for all.
    """
    port = port or int(yaml.safe_load(config.read_text())["http"]["port"])
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from lineguard.cli.main import cli; cli()",
                "server",
                "--config",
                str(config),
                "--fix-permissions",  # pytest tmp_path is 0755
            ],
            env={**os.environ, "LINEGUARD_REPLICA_ID": f"test-replica-{port}", **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@dataclass
class ReplicaSet:
    """Replicas of one plant, running: ``settings`` as the first replica's server.yaml gives them."""

    settings: ServerConfig
    ports: list[int]
    processes: list[subprocess.Popen[bytes]]
    logs: list[Path]

    @property
    def urls(self) -> list[str]:
        return [f"https://127.0.0.1:{port}" for port in self.ports]


@contextlib.contextmanager
def running_replicas(
    tmp_path: Path,
    postgres_url: str,
    env: dict[str, str],
    *,
    count: int = 2,
    each: Sequence[dict[str, str]] = (),
) -> Iterator[ReplicaSet]:
    """``count`` replicas on ``postgres_url`` with one ``data_dir``, each a ``lineguard server`` process.

    ``env`` (the CA and keyring passphrases) goes to the processes; the caller puts it in
    this process's environment too, where making the CA and keyring reads it. ``each[i]``,
    if given, is added for replica ``i`` only (a host's own settings: ``LINEGUARD_PKI_ISSUER``;
    an empty value unsets a secret, which reads as missing). Processes still running at
    the end are terminated (a test may have killed one).
    """
    ports = [free_port() for _ in range(count)]
    configs = [replica_config(tmp_path, postgres_url, port, replicas=count) for port in ports]
    settings = load_server_config(configs[0])
    init_ca(settings)
    make_test_keyring(configs[0])
    replicas = ReplicaSet(settings, ports, [], [tmp_path / f"replica-{port}.log" for port in ports])
    try:
        own = list(each) + [{}] * (count - len(each))
        for config, port, log, extra in zip(
            configs, ports, replicas.logs, own, strict=True
        ):  # the first migrates
            replicas.processes.append(start_replica(config, port, log, {**env, **extra}))
        yield replicas
    finally:
        for process in replicas.processes:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
