"""Opening the server database from its settings: the one way the server and every
command-line tool reach it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.server import ServerConfig
from lineguard.server.storage._engine import create_engine_for, session_factory
from lineguard.server.storage._migrate import upgrade_to_head

__all__ = ["database_url", "open_engine", "open_storage", "opened_storage"]


def database_url(settings: ServerConfig) -> str:
    """The configured URL, or SQLite (WAL) under ``data_dir``."""
    if settings.database.url:
        return settings.database.url
    return f"sqlite:///{settings.data_dir / 'lineguard.db'}"


def open_engine(settings: ServerConfig, *, pool_size: int | None = None) -> Engine:
    """An engine on the configured database, with its password from the secret reference."""
    password = settings.database.password.resolve().get_secret_value() if settings.database.password else None
    return create_engine_for(
        database_url(settings),
        password=password,
        pool_size=settings.database.pool_size if pool_size is None else pool_size,
    )


def open_storage(settings: ServerConfig, *, migrate: bool = True) -> tuple[Engine, sessionmaker[Session]]:
    """The server database for a command-line tool, migrated to head like the server does."""
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    engine = open_engine(settings)
    if migrate:
        upgrade_to_head(engine)
    return engine, session_factory(engine)


@contextmanager
def opened_storage(settings: ServerConfig, *, migrate: bool = True) -> Iterator[sessionmaker[Session]]:
    """:func:`open_storage` for the length of a ``with`` block: the engine (and its pooled
    connections) is disposed of when the block ends, however it ends."""
    engine, sessions = open_storage(settings, migrate=migrate)
    try:
        yield sessions
    finally:
        engine.dispose()
