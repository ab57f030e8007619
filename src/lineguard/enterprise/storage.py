"""Opening the roll-up's database: SQLite under ``data_dir`` or PostgreSQL, tables created once.

The roll-up's schema is small and versioned by :data:`~.models.SCHEMA_VERSION`: a new
database is created at that version (``create_all`` under a transaction lock, so two
processes starting together agree), and a database of another version is refused with
the two versions named rather than used. A change of these tables bumps the version and
ships its upgrade step here (:data:`_UPGRADES`, applied in order inside the same locked
transaction, so a crash leaves the old version intact). Version 1 → 2 adds
``enterprise_tokens.expires_at`` (existing tokens get ``token_days`` from now, so an
upgrade never silently keeps a token valid for ever) and ``enterprise_auth_failures``.
Version 2 → 3 gives the audit chain head the plant's Merkle ``frontier`` (rebuilt from the
entries already there, so the first signed checkpoint covers them too) and ``base_seq``;
``enterprise_audit_checkpoints`` is then created with the other new tables.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.enterprise import EnterpriseServiceConfig
from lineguard.contracts.errors import ConfigError
from lineguard.enterprise.models import (
    GENESIS,
    SCHEMA_VERSION,
    AuditHeadRow,
    AuditRow,
    EnterpriseBase,
    SchemaRow,
    TokenRow,
)
from lineguard.server.audit import MerkleFrontier
from lineguard.server.storage import create_engine_for, session_factory, transaction_lock, utcnow

__all__ = ["open_enterprise_storage", "prepare_schema"]


def _upgrade_1_to_2(connection: Connection, token_days: int) -> None:
    column = TokenRow.__table__.c.expires_at
    kind = column.type.compile(dialect=connection.dialect)
    table = connection.dialect.identifier_preparer.quote(TokenRow.__tablename__)
    connection.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN expires_at {kind}")
    expiry = utcnow() + timedelta(days=token_days)
    connection.execute(update(TokenRow).where(TokenRow.expires_at.is_(None)).values(expires_at=expiry))


def _upgrade_2_to_3(connection: Connection, _token_days: int) -> None:
    table = connection.dialect.identifier_preparer.quote(AuditHeadRow.__tablename__)
    connection.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN frontier TEXT NOT NULL DEFAULT '[]'")
    connection.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN base_seq BIGINT NOT NULL DEFAULT 0")
    frontier = MerkleFrontier()
    for digest in connection.scalars(select(AuditRow.entry_hash).order_by(AuditRow.seq)):
        frontier.append_entry(digest)
    connection.execute(update(AuditHeadRow).where(AuditHeadRow.id == 1).values(frontier=frontier.to_json()))


#: ``version → step`` that brings a database of that version to the next one.
_UPGRADES: dict[int, Callable[[Connection, int], None]] = {1: _upgrade_1_to_2, 2: _upgrade_2_to_3}


def prepare_schema(engine: Engine, *, token_days: int = 30) -> None:
    with engine.begin() as connection:
        transaction_lock(connection, "enterprise-schema")
        with Session(bind=connection) as session:
            row = (
                session.get(SchemaRow, 1)
                if engine.dialect.has_table(connection, "enterprise_schema")
                else None
            )
            while row is not None and row.version in _UPGRADES:
                _UPGRADES[row.version](connection, token_days)
                row.version += 1
                session.flush()
        EnterpriseBase.metadata.create_all(connection)
        with Session(bind=connection) as session:
            row = session.get(SchemaRow, 1)
            if row is None:
                session.add(SchemaRow(id=1, version=SCHEMA_VERSION))
                empty = MerkleFrontier().to_json()
                session.add(AuditHeadRow(id=1, seq=0, entry_hash=GENESIS, frontier=empty, base_seq=0))
                session.flush()
            elif row.version != SCHEMA_VERSION:
                msg = (
                    f"the roll-up database is at schema version {row.version}, "
                    f"this program expects {SCHEMA_VERSION}"
                )
                raise ConfigError(msg)


def open_enterprise_storage(config: EnterpriseServiceConfig) -> tuple[Engine, sessionmaker[Session]]:
    url = config.database_url or f"sqlite:///{config.data_dir / 'enterprise.db'}"
    if config.database_url is None:
        config.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine_for(url)
    prepare_schema(engine, token_days=config.token_days)
    return engine, session_factory(engine)
