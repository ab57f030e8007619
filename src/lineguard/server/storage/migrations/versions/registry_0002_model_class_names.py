"""Model registry: the named defect classes of each registered package (review checks overrules).

Versions registered before this keep NULL: their classes are unknown to the server.

Revision ID: registry_0002
Revises: ppe_0001
Create Date: 2026-12-06 08:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "registry_0002"
down_revision = "ppe_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("registry_model_versions") as batch:
        batch.add_column(sa.Column("class_names", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("registry_model_versions") as batch:
        batch.drop_column("class_names")
