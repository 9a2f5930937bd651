"""Subscriptions keep their current period's start, which places two snapshots of one second.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.add_column("subscriptions", sa.Column("period_start", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("subscriptions", "period_start")
