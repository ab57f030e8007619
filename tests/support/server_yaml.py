"""A minimal server.yaml for tests that drive the CLI against a real database."""

from __future__ import annotations

from pathlib import Path

import yaml

__all__ = ["write_server_yaml"]


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
