"""Subscriptions keep the price they bill (what a member's list says renews, at what price).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.add_column("subscriptions", sa.Column("price_id", sa.String(255)))
    op.add_column("subscriptions", sa.Column("unit_amount", sa.BigInteger))
    op.add_column("subscriptions", sa.Column("currency", sa.String(3)))
    op.add_column("subscriptions", sa.Column("interval", sa.String(16)))


def downgrade() -> None:
    for column in ("interval", "currency", "unit_amount", "price_id"):
        op.drop_column("subscriptions", column)
