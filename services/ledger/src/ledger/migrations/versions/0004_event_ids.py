"""Stripe event ids of up to 255 characters, as Stripe bounds its ids and the gateway accepts.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"

COLUMNS = (("ledger_transactions", "causation_id"), ("timeline", "event_id"))


def upgrade() -> None:
    for table, column in COLUMNS:
        op.alter_column(table, column, type_=sa.String(255), existing_type=sa.String(100))


def downgrade() -> None:
    for table, column in COLUMNS:
        op.alter_column(table, column, type_=sa.String(100), existing_type=sa.String(255))
