"""Credit cycles recorded for later (a term after a subscription, a subscription after a term)
are found by when they start.

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    op.create_index(
        "ix_credit_allocations_pending",
        "credit_allocations",
        ["cycle_start"],
        postgresql_where="NOT applied",
    )


def downgrade() -> None:
    op.drop_index("ix_credit_allocations_pending", table_name="credit_allocations")
