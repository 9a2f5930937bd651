"""Items may have a capacity and one buyer per reference (slots); purchases holding an item are
found by item and reference.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.add_column("items", sa.Column("capacity", sa.Integer, nullable=True))
    op.add_column(
        "items", sa.Column("slots", sa.Boolean, nullable=False, server_default=sa.text("false"))
    )
    op.create_index(
        "ix_checkout_sessions_purchase_holds",
        "checkout_sessions",
        ["item_id", "reference"],
        postgresql_where=sa.text("released_at IS NULL AND purpose = 'purchase'"),
    )


def downgrade() -> None:
    op.drop_index("ix_checkout_sessions_purchase_holds", table_name="checkout_sessions")
    op.drop_column("items", "slots")
    op.drop_column("items", "capacity")
