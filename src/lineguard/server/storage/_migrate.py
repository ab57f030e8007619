"""Alembic, driven from code: ``upgrade_to_head(engine)`` runs at server start-up.

There is no ``alembic.ini``: the script location is this package's ``migrations``
folder and the connection is handed over in ``config.attributes``. Every domain's
``models`` module is imported first (found by walking ``lineguard.server``), so
``Base.metadata`` is complete wherever migrations or autogenerate run.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from lineguard.server.storage._base import UtcDateTime

__all__ = [
    "MIGRATIONS_DIR",
    "alembic_config",
    "compare_type",
    "current_heads",
    "load_all_models",
    "render_item",
    "upgrade_to_head",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def load_all_models() -> list[str]:
    """Import ``lineguard.server.<domain>.models`` for every domain that has one."""
    import lineguard.server as server_pkg

    loaded = []
    for info in pkgutil.iter_modules(server_pkg.__path__):
        if not info.ispkg:
            continue
        name = f"{server_pkg.__name__}.{info.name}.models"
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
            loaded.append(name)
    return loaded


def render_item(type_: str, obj: Any, _autogen_context: AutogenContext) -> str | Literal[False]:
    """Revisions stay free of our code: ``UtcDateTime`` is written as its column type."""
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def compare_type(
    _ctx: Any, _inspected: Any, _metadata: Any, inspected_type: Any, metadata_type: Any
) -> bool | None:
    if isinstance(metadata_type, UtcDateTime):
        return not isinstance(inspected_type, sa.DateTime)
    return None  # Alembic's default comparison


def alembic_config(engine: Engine | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def current_heads() -> tuple[str, ...]:
    """Revision ids without a successor; a healthy tree has exactly one."""
    return tuple(ScriptDirectory.from_config(alembic_config()).get_heads())


#: Alembic's ``context`` is a module-global proxy: two upgrades in one process at once
#: (two apps started by one test process) would run on each other's connection. Across
#: processes (replicas) ``env.py`` takes a database advisory lock instead.
_ONE_UPGRADE_PER_PROCESS = threading.Lock()


def upgrade_to_head(engine: Engine) -> None:
    """Bring the database schema to the newest revision (idempotent)."""
    load_all_models()
    with _ONE_UPGRADE_PER_PROCESS:
        command.upgrade(alembic_config(engine), "head")
