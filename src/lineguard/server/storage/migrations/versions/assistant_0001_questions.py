"""Assistant: every question asked, its answer sealed, under its own retention.

Revision ID: assistant_0001
Revises: measurements_0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "assistant_0001"
down_revision = "measurements_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assistant_questions",
        sa.Column("question_id", sa.String(length=64), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("asked_by", sa.String(length=160), nullable=False),
        sa.Column("workflow", sa.String(length=48), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scope", sa.String(length=500), nullable=False),
        sa.Column("text_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("answer_sha256", sa.String(length=64), nullable=False),
        sa.Column("refused", sa.Boolean(), nullable=False),
        sa.Column("cited", sa.JSON(), nullable=False),
        sa.Column("answerer", sa.String(length=64), nullable=False),
        sa.Column("answerer_version", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("question_id", name=op.f("pk_assistant_questions")),
    )
    with op.batch_alter_table("assistant_questions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assistant_questions_asked_at"), ["asked_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_assistant_questions_asked_by_asked_at"), ["asked_by", "asked_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("assistant_questions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assistant_questions_asked_by_asked_at"))
        batch_op.drop_index(batch_op.f("ix_assistant_questions_asked_at"))
    op.drop_table("assistant_questions")
