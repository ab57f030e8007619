"""A version-1 roll-up database (tokens without expiry, no failure table) is upgraded in
place on both engines when the service opens it: the tokens it holds get the default
validity from the upgrade on, never "for ever", and nothing else changes. A version-2
database (an unsigned audit chain) gets the Merkle frontier of the entries it holds, so
the first signed checkpoint covers them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, inspect, text

from lineguard.contracts.audit import EnterpriseTokenRevoked
from lineguard.contracts.errors import ConfigError
from lineguard.enterprise import open_enterprise_storage, record
from lineguard.enterprise.models import SCHEMA_VERSION, AuditHeadRow, SchemaRow, TokenRow
from lineguard.enterprise.storage import prepare_schema
from lineguard.server.audit import MerkleFrontier
from lineguard.server.storage import utcnow
from tests.support.enterprise import make_rollup


def test_a_version_1_database_is_upgraded_and_its_tokens_get_an_expiry(tmp_path: Path, db_url: str) -> None:
    rollup = make_rollup(tmp_path / "r", db_url)
    engine = rollup.engine
    created = utcnow() - timedelta(days=400)
    with engine.begin() as c:  # back to what version 1 created
        _back_to_version_2(c)
        c.execute(text("DROP TABLE enterprise_auth_failures"))
        c.execute(text("ALTER TABLE enterprise_tokens DROP COLUMN expires_at"))
        c.execute(text("UPDATE enterprise_schema SET version = 1"))
        c.execute(
            text(
                "INSERT INTO enterprise_tokens (token_id, digest, holder, role, created_at) "
                "VALUES ('tok_old', :d, 'QA', 'quality_viewer', :t)"
            ),
            {"d": "a" * 64, "t": created},
        )
    engine.dispose()

    engine, sessions = open_enterprise_storage(rollup.config)
    assert "enterprise_auth_failures" in inspect(engine).get_table_names()
    with sessions() as session:
        schema = session.get(SchemaRow, 1)
        token = session.get(TokenRow, "tok_old")
        assert schema is not None and schema.version == SCHEMA_VERSION == 3
        assert token is not None and token.expires_at is not None
        left = token.expires_at - utcnow()
        assert timedelta(days=29, hours=23) < left <= timedelta(days=30)
        assert token.holder == "QA"
    prepare_schema(engine)  # opening it again changes nothing
    with sessions() as session:
        again = session.get(TokenRow, "tok_old")
        assert again is not None and again.expires_at == token.expires_at
    engine.dispose()


def _back_to_version_2(c: Connection) -> None:
    """What version 2 had: an unsigned chain (no frontier, no base, no checkpoints)."""
    c.execute(text("DROP TABLE enterprise_audit_checkpoints"))
    c.execute(text("ALTER TABLE enterprise_audit_head DROP COLUMN frontier"))
    c.execute(text("ALTER TABLE enterprise_audit_head DROP COLUMN base_seq"))
    c.execute(text("UPDATE enterprise_schema SET version = 2"))


def test_a_version_2_chain_is_upgraded_so_its_first_checkpoint_signs_the_old_entries(
    tmp_path: Path, db_url: str
) -> None:
    rollup = make_rollup(tmp_path / "r", db_url)
    for n in range(5):  # entries an unsigned (version-2) roll-up wrote
        rollup.enrol(f"plant-{n}", tmp_path / f"p{n}")
    with rollup.engine.begin() as c:
        _back_to_version_2(c)
    rollup.engine.dispose()

    engine, sessions = open_enterprise_storage(rollup.config)
    rollup.engine, rollup.sessions = engine, sessions
    with sessions() as session:
        head = session.get(AuditHeadRow, 1)
        assert head is not None and head.seq == 5 and head.base_seq == 0
        frontier = MerkleFrontier.from_json(head.frontier)
        assert frontier.size == 5
    assert rollup.verify_audit() == 5  # the old entries are now under a signed root
    with sessions.begin() as session:  # and appends go on from the rebuilt frontier
        record(session, EnterpriseTokenRevoked(token_id="tok_x"), actor="cli:test")
    assert rollup.verify_audit() == 6
    engine.dispose()


def test_a_database_of_an_unknown_version_is_refused_naming_both(tmp_path: Path, db_url: str) -> None:
    rollup = make_rollup(tmp_path / "r", db_url)
    with rollup.engine.begin() as c:
        c.execute(text("UPDATE enterprise_schema SET version = 7"))
    with pytest.raises(ConfigError, match=f"schema version 7, this program expects {SCHEMA_VERSION}"):
        prepare_schema(rollup.engine)
    rollup.engine.dispose()


def test_the_rollups_audit_tables_are_the_plants_column_for_column() -> None:
    """One set of column mixins: the roll-up's audit tables cannot drift from the plant's."""
    from sqlalchemy.dialects import postgresql, sqlite

    from lineguard.enterprise.models import AuditCheckpointRow, AuditRow
    from lineguard.server.audit.models import AuditChainHead, AuditEntryRow
    from lineguard.server.audit.models import AuditCheckpointRow as PlantCheckpointRow

    def columns(model: Any, dialect: Any) -> list[tuple[str, str, bool, bool]]:
        table = model.__table__
        return [(c.name, str(c.type.compile(dialect=dialect)), c.nullable, c.primary_key) for c in table.c]

    pairs = (
        (AuditRow, AuditEntryRow),
        (AuditHeadRow, AuditChainHead),
        (AuditCheckpointRow, PlantCheckpointRow),
    )
    for dialect in (postgresql.dialect(), sqlite.dialect()):
        for ours, plants in pairs:
            assert columns(ours, dialect) == columns(plants, dialect), ours.__tablename__
