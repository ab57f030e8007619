"""Relay certificate requests: a replica without the CA key asks the issuer through the database.

Revision ID: evidence_0005
Revises: evidence_0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "evidence_0005"
down_revision = "evidence_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "relay_certificate_requests",
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("replica_id", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=253), nullable=False),
        sa.Column("csr_pem", sa.Text(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("certificate_pem", sa.Text(), nullable=True),
        sa.Column("refusal_code", sa.String(length=64), nullable=True),
        sa.Column("refusal", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_relay_certificate_requests")),
    )


def downgrade() -> None:
    op.drop_table("relay_certificate_requests")
