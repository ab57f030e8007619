"""Sign-in attempts per source address in the database: one rate limit across replicas.

Revision ID: auth_0003
Revises: assistant_0001
Create Date: 2026-12-06 04:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "auth_0003"
down_revision = "assistant_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_signin_attempts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_signin_attempts")),
    )
    op.create_index(
        op.f("ix_auth_signin_attempts_source_attempted_at"),
        "auth_signin_attempts",
        ["source", "attempted_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_auth_signin_attempts_attempted_at"), "auth_signin_attempts", ["attempted_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_auth_signin_attempts_attempted_at"), table_name="auth_signin_attempts")
    op.drop_index(op.f("ix_auth_signin_attempts_source_attempted_at"), table_name="auth_signin_attempts")
    op.drop_table("auth_signin_attempts")
