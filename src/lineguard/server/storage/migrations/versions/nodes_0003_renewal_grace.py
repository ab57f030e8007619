"""Renewal that survives a lost answer: the issued certificate kept, the previous one in grace.

Revision ID: nodes_0003
Revises: evidence_0005
Create Date: 2026-12-07

``public_key_sha256`` and ``certificate_pem`` let the issuer answer a node that retries a
renewal with the same key with the certificate it already signed; ``superseded_by`` and
``accepted_until`` keep the previous certificate accepted until its successor is first
presented (``first_seen_at``) or the grace ends. Rows written before this revision are
in use already: their ``first_seen_at`` is their ``issued_at``, so no request after the
upgrade has to write it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "nodes_0003"
down_revision = "evidence_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("node_certificates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_key_sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("certificate_pem", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("superseded_by", sa.String(length=48), nullable=True))
        batch_op.add_column(sa.Column("accepted_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE node_certificates SET first_seen_at = issued_at")


def downgrade() -> None:
    with op.batch_alter_table("node_certificates", schema=None) as batch_op:
        for column in (
            "first_seen_at",
            "accepted_until",
            "superseded_by",
            "certificate_pem",
            "public_key_sha256",
        ):
            batch_op.drop_column(column)
