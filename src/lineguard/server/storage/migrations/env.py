"""Alembic environment: online only, connection from ``config.attributes["engine"]``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from lineguard.server.storage._base import Base
from lineguard.server.storage._locks import transaction_lock
from lineguard.server.storage._migrate import compare_type, load_all_models, render_item

load_all_models()
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = context.config.attributes.get("engine")
    if not isinstance(engine, Engine):
        msg = "run migrations through lineguard.server.storage.upgrade_to_head(engine)"
        raise TypeError(msg)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            # SQLite cannot ALTER most things in place: batch mode copies the table.
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=compare_type,
            render_item=render_item,
        )
        with context.begin_transaction():
            # Replicas starting together: one migrates, the others wait and then find
            # the schema at head (PostgreSQL's DDL is transactional).
            transaction_lock(connection, "schema-migration")
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    msg = "offline (SQL script) migrations are not supported; run them against a database"
    raise RuntimeError(msg)
run_migrations_online()
