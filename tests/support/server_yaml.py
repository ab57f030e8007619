"""Server settings for tests: the plant every PKI and replica test starts from, and a
minimal server.yaml for tests that drive the CLI against a real database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

__all__ = ["PLANT_SERVER_NAMES", "plant_server_config", "write_server_yaml"]

#: The names a test plant's server certificate carries: the loopback address the test
#: servers listen on, and ``localhost``.
PLANT_SERVER_NAMES = ("127.0.0.1", "localhost")


def plant_server_config(data_dir: Path, **sections: Any) -> dict[str, Any]:
    """Site ``plant-a`` keeping its files in ``data_dir``, its certificate for loopback.

    Plain YAML types, so the one dict serves ``ServerConfig.model_validate`` and a
    server.yaml a child process reads; ``sections`` add or replace top-level sections
    (``http``, ``database``, ``auth``).
    """
    return {
        "kind": "server",
        "site_id": "plant-a",
        "data_dir": str(data_dir),
        "pki": {"server_names": list(PLANT_SERVER_NAMES)},
        **sections,
    }


def write_server_yaml(tmp_path: Path, db_url: str) -> Path:
    """``tmp_path/server.yaml`` for site ``plant`` on ``db_url``, with cheap password hashing."""
    path = tmp_path / "server.yaml"
    data = {
        "kind": "server",
        "site_id": "plant",
        "data_dir": str(tmp_path / "data"),
        "database": {"url": db_url},
        "auth": {"argon2_time_cost": 1, "argon2_memory_kib": 8, "argon2_parallelism": 1},
    }
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path
