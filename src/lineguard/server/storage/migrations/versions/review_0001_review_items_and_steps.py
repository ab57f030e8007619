"""Review workflow: one item per AI output under review (versioned), and its timeline.

Revision ID: review_0001
Revises: auth_0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "review_0001"
down_revision = "auth_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_items",
        sa.Column("review_id", sa.String(length=64), nullable=False),
        sa.Column("subject_kind", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.String(length=128), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("line_id", sa.String(length=64), nullable=True),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("ai_proposal", sa.JSON(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("human_outcome", sa.JSON(), nullable=True),
        sa.Column("assignee", sa.String(length=160), nullable=True),
        sa.Column("escalated_to", sa.String(length=64), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=160), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=160), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=160), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("review_id", name=op.f("pk_review_items")),
        sa.UniqueConstraint(
            "subject_kind", "subject_id", name=op.f("uq_review_items_subject_kind_subject_id")
        ),
    )
    with op.batch_alter_table("review_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_review_items_state_raised_at"), ["state", "raised_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_review_items_subject_kind_raised_at"), ["subject_kind", "raised_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_review_items_subject_kind_state_raised_at"),
            ["subject_kind", "state", "raised_at"],
            unique=False,
        )

    op.create_table(
        "review_steps",
        sa.Column(
            "row_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("review_id", sa.String(length=64), nullable=False),
        sa.Column("step_no", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=160), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["review_id"],
            ["review_items.review_id"],
            name=op.f("fk_review_steps_review_id_review_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("row_id", name=op.f("pk_review_steps")),
    )
    with op.batch_alter_table("review_steps", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_review_steps_review_id_step_no"), ["review_id", "step_no"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("review_steps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_steps_review_id_step_no"))

    op.drop_table("review_steps")
    with op.batch_alter_table("review_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_items_subject_kind_state_raised_at"))
        batch_op.drop_index(batch_op.f("ix_review_items_subject_kind_raised_at"))
        batch_op.drop_index(batch_op.f("ix_review_items_state_raised_at"))

    op.drop_table("review_items")
