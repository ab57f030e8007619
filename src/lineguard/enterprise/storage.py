"""Opening the roll-up's database: SQLite under ``data_dir`` or PostgreSQL, tables created once.

The roll-up's schema is small and versioned by :data:`~.models.SCHEMA_VERSION`: a new
database is created at that version (``create_all`` under a transaction lock, so two
processes starting together agree), and a database of another version is refused with
the two versions named rather than used. A change of these tables bumps the version and
ships its upgrade step here.
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.enterprise import EnterpriseServiceConfig
from lineguard.contracts.errors import ConfigError
from lineguard.enterprise.models import GENESIS, SCHEMA_VERSION, AuditHeadRow, EnterpriseBase, SchemaRow
from lineguard.server.storage import create_engine_for, session_factory, transaction_lock

__all__ = ["open_enterprise_storage", "prepare_schema"]


def prepare_schema(engine: Engine) -> None:
    with engine.begin() as connection:
        transaction_lock(connection, "enterprise-schema")
        EnterpriseBase.metadata.create_all(connection)
        with Session(bind=connection) as session:
            row = session.get(SchemaRow, 1)
            if row is None:
                session.add(SchemaRow(id=1, version=SCHEMA_VERSION))
                session.add(AuditHeadRow(id=1, seq=0, entry_hash=GENESIS))
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
    prepare_schema(engine)
    return engine, session_factory(engine)
