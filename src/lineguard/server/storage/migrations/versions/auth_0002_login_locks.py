"""Sign-in lockout per (account name, source address) instead of per account.

Revision ID: auth_0002
Revises: governance_0001
Create Date: 2026-12-06 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "auth_0002"
down_revision = "governance_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_login_locks",
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("lockouts", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account", "source", name=op.f("pk_auth_login_locks")),
    )
    op.create_index(op.f("ix_auth_login_locks_updated_at"), "auth_login_locks", ["updated_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_auth_login_locks_updated_at"), table_name="auth_login_locks")
    op.drop_table("auth_login_locks")
