"""The billing period a subscription payment covers.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.add_column("payments", sa.Column("period_start", sa.DateTime(timezone=True)))
    op.add_column("payments", sa.Column("period_end", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("payments", "period_end")
    op.drop_column("payments", "period_start")
