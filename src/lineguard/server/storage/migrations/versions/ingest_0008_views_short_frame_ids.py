"""Part verdicts say when a part was judged on fewer frames than expected; stage results name
every frame they rest on.

``part_verdicts.frames_expected`` (NULL: not configured, and every verdict stored before) and
``part_verdicts.views_short`` (false for those); ``stage_results.frame_ids`` (NULL for results
stored before: they rest on ``frame_id`` alone, as the read side shows them).

Revision ID: ingest_0008
Revises: evidence_0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ingest_0008"
down_revision = "evidence_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("part_verdicts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("frames_expected", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("views_short", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("stage_results", schema=None) as batch_op:
        batch_op.add_column(sa.Column("frame_ids", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stage_results", schema=None) as batch_op:
        batch_op.drop_column("frame_ids")
    with op.batch_alter_table("part_verdicts", schema=None) as batch_op:
        batch_op.drop_column("views_short")
        batch_op.drop_column("frames_expected")
