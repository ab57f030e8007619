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
from lineguard.server.storage._partitions import PARTITION_KEYS

__all__ = [
    "MIGRATIONS_DIR",
    "alembic_config",
    "compare_type",
    "current_heads",
    "load_all_models",
    "render_item",
    "upgrade_to_head",
    "without_partition_keys",
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


def without_partition_keys(diff: list[Any]) -> list[Any]:
    """Alembic's ``compare_metadata`` diff less the one difference partitioning makes on
    purpose: on PostgreSQL each unique constraint of a partitioned table ends with the
    partition key (``storage._partitions``), which the models, shared with SQLite, do not
    name. A pair (the database's constraint, the model's) is dropped only when the two
    differ by exactly that column; any other drift stays in the diff."""
    added = {
        (op[1].table.name, tuple(c.name for c in op[1].columns))
        for op in diff
        if isinstance(op, tuple) and op[0] == "add_constraint" and isinstance(op[1], sa.UniqueConstraint)
    }
    explained: set[tuple[str, tuple[str, ...]]] = set()
    for op in diff:
        if isinstance(op, tuple) and op[0] == "remove_constraint" and isinstance(op[1], sa.UniqueConstraint):
            table, columns = op[1].table.name, tuple(c.name for c in op[1].columns)
            key = PARTITION_KEYS.get(table)
            if key is not None and columns[-1:] == (key,) and (table, columns[:-1]) in added:
                explained |= {(table, columns), (table, columns[:-1])}

    def explained_op(op: Any) -> bool:
        if not (isinstance(op, tuple) and op[0] in {"add_constraint", "remove_constraint"}):
            return False
        constraint = op[1]
        if not isinstance(constraint, sa.UniqueConstraint):
            return False
        return (constraint.table.name, tuple(c.name for c in constraint.columns)) in explained

    return [op for op in diff if not explained_op(op)]


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
