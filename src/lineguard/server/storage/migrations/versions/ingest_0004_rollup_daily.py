"""A daily rollup beside the hourly one, filled from it: long ranges read whole days.

Revision ID: ingest_0004
Revises: ingest_0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ingest_0004"
down_revision = "ingest_0003"
branch_labels = None
depends_on = None

_KEY = ["site_id", "defect_class", "line_id", "camera_id", "model_id", "model_version"]
_COUNTS = ["inspected", "passed", "failed", "uncertain"]


def upgrade() -> None:
    op.create_table(
        "rollup_daily",
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("defect_class", sa.String(length=64), nullable=False),
        sa.Column("day", sa.DateTime(timezone=True), nullable=False),
        sa.Column("line_id", sa.String(length=64), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("model_id", sa.String(length=128), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        *[sa.Column(name, sa.BigInteger(), nullable=False) for name in _COUNTS],
        sa.PrimaryKeyConstraint(
            "site_id", "defect_class", "day", "line_id", "camera_id", "model_id", "model_version",
            name=op.f("pk_rollup_daily"),
        ),
        sqlite_with_rowid=False,
    )  # fmt: skip
    op.create_index(op.f("ix_rollup_daily_day"), "rollup_daily", ["day"], unique=False)
    if op.get_bind().dialect.name == "sqlite":  # times are UTC text 'YYYY-MM-DD HH:MM:SS.ffffff'
        day = "substr(hour, 1, 10) || ' 00:00:00.000000'"
    else:
        day = "date_trunc('day', hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    keys = ", ".join(_KEY)
    sums = ", ".join(f"SUM({c})" for c in _COUNTS)
    op.execute(
        f"INSERT INTO rollup_daily ({keys}, day, {', '.join(_COUNTS)})"  # noqa: S608 - fixed names
        f" SELECT {keys}, {day}, {sums} FROM rollup_hourly GROUP BY {keys}, {day}"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_rollup_daily_day"), table_name="rollup_daily")
    op.drop_table("rollup_daily")
