"""Payments booked from what Stripe's events carry: the parts of a payment kept until it can be
booked, its fee unknown (null) until the fee task reads it, lookups by payment intent and
invoice, and refunds whose newest status wins.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_table(
        "payment_parts",
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("partner", sa.String(length=100), nullable=True),
        sa.Column("facts", postgresql.JSONB(), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("kind", "key", name=op.f("pk_payment_parts")),
    )
    op.create_index("ix_payment_parts_partner", "payment_parts", ["kind", "partner"])
    op.create_index("ix_payment_parts_recorded", "payment_parts", ["recorded_at"])
    op.alter_column("payments", "fee", existing_type=sa.BigInteger(), nullable=True)
    op.create_index("ix_payments_payment_intent", "payments", ["payment_intent_id"])
    op.create_index("ix_payments_invoice", "payments", ["invoice_id"])
    op.create_index(
        "ix_payments_fee_unknown",
        "payments",
        ["created_at"],
        postgresql_where=sa.text("fee IS NULL"),
    )
    # Refunds booked before keep the status they had, as news of their creation.
    op.add_column("refunds", sa.Column("status_at", sa.BigInteger(), nullable=True))
    op.add_column("refunds", sa.Column("status_rank", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE refunds SET status_at = extract(epoch FROM created_at)::bigint, status_rank = "
        "CASE status WHEN 'pending' THEN 1 WHEN 'requires_action' THEN 1"
        " WHEN 'succeeded' THEN 3 WHEN 'failed' THEN 4 WHEN 'canceled' THEN 4 ELSE 2 END"
    )
    op.alter_column("refunds", "status_at", nullable=False)
    op.alter_column("refunds", "status_rank", nullable=False)


def downgrade() -> None:
    op.drop_column("refunds", "status_rank")
    op.drop_column("refunds", "status_at")
    op.drop_index("ix_payments_fee_unknown", table_name="payments")
    op.drop_index("ix_payments_invoice", table_name="payments")
    op.drop_index("ix_payments_payment_intent", table_name="payments")
    op.execute("UPDATE payments SET fee = 0 WHERE fee IS NULL")
    op.alter_column("payments", "fee", existing_type=sa.BigInteger(), nullable=False)
    op.drop_index("ix_payment_parts_recorded", table_name="payment_parts")
    op.drop_index("ix_payment_parts_partner", table_name="payment_parts")
    op.drop_table("payment_parts")
