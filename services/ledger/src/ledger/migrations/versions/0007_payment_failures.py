"""Declined and failed payments of each group, for the console (they move no money).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.create_table(
        "payment_failures",
        sa.Column("failure_id", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("group_id", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.String(length=100), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("code", sa.String(length=100), nullable=True),
        sa.Column("decline_code", sa.String(length=100), nullable=True),
        sa.Column("message", sa.String(length=500), nullable=True),
        sa.Column("payment_intent_id", sa.String(length=100), nullable=True),
        sa.Column("invoice_id", sa.String(length=100), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="1", nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("failure_id", name=op.f("pk_payment_failures")),
    )
    op.create_index("ix_payment_failures_group", "payment_failures", ["group_id", "failed_at"])


def downgrade() -> None:
    op.drop_index("ix_payment_failures_group", table_name="payment_failures")
    op.drop_table("payment_failures")
