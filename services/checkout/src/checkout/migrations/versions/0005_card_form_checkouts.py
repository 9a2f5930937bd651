"""Checkouts of the app's own card form: a kind per checkout, the Stripe id of whatever it is
(session, subscription or PaymentIntent), and the buyer's email.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.alter_column("checkout_sessions", "stripe_session_id", new_column_name="stripe_id")
    op.execute(
        "ALTER TABLE checkout_sessions RENAME CONSTRAINT "
        "uq_checkout_sessions_stripe_session_id TO uq_checkout_sessions_stripe_id"
    )
    op.add_column(
        "checkout_sessions",
        sa.Column("kind", sa.String(20), nullable=False, server_default=sa.text("'session'")),
    )
    op.add_column("checkout_sessions", sa.Column("email", sa.String(320), nullable=True))


def downgrade() -> None:
    # Card-form checkouts keep their rows; the code of before takes them for sessions.
    op.drop_column("checkout_sessions", "email")
    op.drop_column("checkout_sessions", "kind")
    op.execute(
        "ALTER TABLE checkout_sessions RENAME CONSTRAINT "
        "uq_checkout_sessions_stripe_id TO uq_checkout_sessions_stripe_session_id"
    )
    op.alter_column("checkout_sessions", "stripe_id", new_column_name="stripe_session_id")
