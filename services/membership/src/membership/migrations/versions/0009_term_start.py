"""A one-time term bought while a subscription runs starts when that subscription's period ends.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.add_column("one_time_terms", sa.Column("starts_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("one_time_terms", "starts_at")
