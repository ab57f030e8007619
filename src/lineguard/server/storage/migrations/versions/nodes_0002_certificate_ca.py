"""Which plant CA issued each node certificate, so a CA is retired only once no node needs it.

Revision ID: nodes_0002
Revises: evidence_0003
Create Date: 2026-12-07

Rows written before this revision have no value: they were issued by the CA of the time
(the first one; there was no rotation before), and ``lineguard ca retire`` counts them
as the previous CA's.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "nodes_0002"
down_revision = "evidence_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("node_certificates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ca_fingerprint", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("node_certificates", schema=None) as batch_op:
        batch_op.drop_column("ca_fingerprint")
