"""What Stripe's events tell about payments, invoices and subscriptions; notifications that wait
for it, and notifications superseded before they were sent.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "0006"
down_revision = "0005"

STATUSES = "'pending', 'sending', 'sent', 'failed'"


def upgrade() -> None:
    op.create_table(
        "stripe_details",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("details", JSONB, nullable=False),
        sa.Column(
            "as_of", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("ix_stripe_details_as_of", "stripe_details", ["as_of"])
    op.create_table(
        "invoice_attempts",
        sa.Column("invoice_id", sa.String(255), primary_key=True),
        sa.Column("attempt_count", sa.Integer, nullable=False),
        sa.Column("paid", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column(
            "as_of", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("ix_invoice_attempts_as_of", "invoice_attempts", ["as_of"])
    op.add_column("awaiting_address", sa.Column("details_keys", ARRAY(sa.String(255))))
    op.add_column("awaiting_address", sa.Column("email", sa.String(320)))
    op.add_column("notifications", sa.Column("stale_after", sa.DateTime(timezone=True)))
    op.drop_constraint("ck_notifications_status", "notifications", type_="check")
    op.create_check_constraint(
        "ck_notifications_status", "notifications", f"status IN ({STATUSES}, 'superseded')"
    )


def downgrade() -> None:
    op.execute("UPDATE notifications SET status = 'failed' WHERE status = 'superseded'")
    op.drop_constraint("ck_notifications_status", "notifications", type_="check")
    op.create_check_constraint(
        "ck_notifications_status", "notifications", f"status IN ({STATUSES})"
    )
    op.drop_column("notifications", "stale_after")
    op.drop_column("awaiting_address", "email")
    op.drop_column("awaiting_address", "details_keys")
    op.drop_table("invoice_attempts")
    op.drop_table("stripe_details")
