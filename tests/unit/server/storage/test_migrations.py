"""The migration tree protects every engineer who adds a table: one head, and
``upgrade head`` yields exactly ``Base.metadata`` on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from lineguard.server.storage import Base, alembic_config, create_engine_for, current_heads, upgrade_to_head
from lineguard.server.storage._migrate import compare_type, load_all_models, without_partition_keys


def test_there_is_exactly_one_head() -> None:
    heads = current_heads()
    assert len(heads) == 1, f"{len(heads)} heads {heads}: set your down_revision to the head"


def test_every_revision_chains_to_the_root() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    revisions = list(script.walk_revisions())
    roots = [r.revision for r in revisions if r.down_revision is None]
    assert roots == ["0001"]


def test_upgrade_head_yields_exactly_the_models(empty_db_url: str) -> None:
    load_all_models()
    engine = create_engine_for(empty_db_url)
    try:
        upgrade_to_head(engine)
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": compare_type})
            # On PostgreSQL the partitioned tables' unique constraints also name their
            # partition key (storage._partitions); that and only that is discounted.
            diff = without_partition_keys(compare_metadata(ctx, Base.metadata))
        assert diff == [], f"models and migrations disagree (add an Alembic revision): {diff}"
        assert set(inspect(engine).get_table_names()) >= set(Base.metadata.tables)
    finally:
        engine.dispose()


def test_upgrade_is_idempotent(empty_db_url: str) -> None:
    engine = create_engine_for(empty_db_url)
    try:
        upgrade_to_head(engine)
        upgrade_to_head(engine)
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_heads() == current_heads()
    finally:
        engine.dispose()


def test_only_the_partition_key_difference_is_discounted() -> None:
    """The PostgreSQL unique constraints gain exactly the partition key; other drift stays."""
    from sqlalchemy import Column, MetaData, String, Table, UniqueConstraint

    def unique(table: str, *columns: str) -> UniqueConstraint:
        t = Table(
            table, MetaData(), *(Column(c, String) for c in ("node_id", "idempotency_key", "captured_at"))
        )
        constraint = UniqueConstraint(*columns)
        t.append_constraint(constraint)
        return constraint

    partition = [
        ("remove_constraint", unique("inspection_events", "node_id", "idempotency_key", "captured_at")),
        ("add_constraint", unique("inspection_events", "node_id", "idempotency_key")),
    ]
    other = [  # the same shape on a table that is not partitioned, and a different column
        ("remove_constraint", unique("part_verdicts", "node_id", "idempotency_key", "captured_at")),
        ("add_constraint", unique("part_verdicts", "node_id", "idempotency_key")),
        ("remove_constraint", unique("alerts", "node_id", "captured_at")),
        ("add_constraint", unique("alerts", "node_id")),
    ]
    assert without_partition_keys(partition + other) == other
