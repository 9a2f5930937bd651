"""Subscriptions read from Stripe keep the earliest second their state may be from.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.add_column("subscriptions", sa.Column("version_from", sa.BigInteger))


def downgrade() -> None:
    op.drop_column("subscriptions", "version_from")
