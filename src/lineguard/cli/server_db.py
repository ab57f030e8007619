"""The server's database for a governance command: settings loaded, schema migrated, one session.

Shared by ``lineguard doctor``, ``governance`` and ``access-review`` so each command body is
only its own work.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from lineguard.config import load_server_config

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from lineguard.config.server import ServerConfig

__all__ = ["server_session"]


@contextmanager
def server_session(config_path: Path) -> Iterator[tuple[ServerConfig, Session]]:
    from lineguard.server.storage import opened_storage

    settings = load_server_config(config_path)
    with opened_storage(settings) as sessions, sessions() as session:
        yield settings, session
