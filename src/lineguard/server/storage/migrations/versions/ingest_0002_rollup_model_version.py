"""The hourly rollup keeps the model that judged the parts (model_id, model_version in its key).

Rows counted before this revision cannot be attributed to a model after the fact (raw
events may already be gone under retention, the rollup is kept): they keep their counts
under model_id '' / model_version 0 ("unknown model"), so no figure changes.

Revision ID: ingest_0002
Revises: protect_0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ingest_0002"
down_revision = "protect_0002"
branch_labels = None
depends_on = None

_OLD_KEY = ["site_id", "defect_class", "hour", "line_id", "camera_id"]
_NEW_KEY = [*_OLD_KEY, "model_id", "model_version"]
_COUNTS = ["inspected", "passed", "failed", "uncertain"]


def _rollup_columns(*, with_model: bool) -> list[sa.Column[object]]:
    columns: list[sa.Column[object]] = [
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("defect_class", sa.String(length=64), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("line_id", sa.String(length=64), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
    ]
    if with_model:
        columns += [
            sa.Column("model_id", sa.String(length=128), server_default="", nullable=False),
            sa.Column("model_version", sa.Integer(), server_default="0", nullable=False),
        ]
    columns += [sa.Column(name, sa.BigInteger(), nullable=False) for name in _COUNTS]
    return columns


def _rebuild_sqlite(*, with_model: bool) -> None:
    """SQLite cannot change a primary key in place: copy into a new WITHOUT ROWID table."""
    key = _NEW_KEY if with_model else _OLD_KEY
    op.create_table(
        "rollup_hourly_rebuild",
        *_rollup_columns(with_model=with_model),
        sa.PrimaryKeyConstraint(*key, name="pk_rollup_hourly"),
        sqlite_with_rowid=False,
    )
    copied = ", ".join([*_OLD_KEY, *_COUNTS])
    if with_model:
        op.execute(f"INSERT INTO rollup_hourly_rebuild ({copied}) SELECT {copied} FROM rollup_hourly")  # noqa: S608
    else:  # sum the models of each old key back together
        sums = ", ".join(f"SUM({c})" for c in _COUNTS)
        keys = ", ".join(_OLD_KEY)
        op.execute(
            f"INSERT INTO rollup_hourly_rebuild ({copied}) "  # noqa: S608
            f"SELECT {keys}, {sums} FROM rollup_hourly GROUP BY {keys}"
        )
    op.drop_index("ix_rollup_hourly_hour", table_name="rollup_hourly")
    op.drop_table("rollup_hourly")
    op.rename_table("rollup_hourly_rebuild", "rollup_hourly")
    op.create_index("ix_rollup_hourly_hour", "rollup_hourly", ["hour"], unique=False)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(with_model=True)
        return
    op.add_column(
        "rollup_hourly", sa.Column("model_id", sa.String(length=128), server_default="", nullable=False)
    )
    op.add_column(
        "rollup_hourly", sa.Column("model_version", sa.Integer(), server_default="0", nullable=False)
    )
    op.drop_constraint("pk_rollup_hourly", "rollup_hourly", type_="primary")
    op.create_primary_key("pk_rollup_hourly", "rollup_hourly", _NEW_KEY)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(with_model=False)
        return
    sums = ", ".join(f"SUM({c}) AS {c}" for c in _COUNTS)
    keys = ", ".join(_OLD_KEY)
    merged = f"SELECT {keys}, {sums} FROM rollup_hourly GROUP BY {keys}"  # noqa: S608
    op.execute(f"CREATE TEMPORARY TABLE rollup_hourly_merged AS {merged}")
    op.execute("DELETE FROM rollup_hourly")
    op.drop_constraint("pk_rollup_hourly", "rollup_hourly", type_="primary")
    op.drop_column("rollup_hourly", "model_version")
    op.drop_column("rollup_hourly", "model_id")
    op.create_primary_key("pk_rollup_hourly", "rollup_hourly", _OLD_KEY)
    op.execute(f"INSERT INTO rollup_hourly ({keys}, {', '.join(_COUNTS)}) SELECT * FROM rollup_hourly_merged")  # noqa: S608
    op.execute("DROP TABLE rollup_hourly_merged")
