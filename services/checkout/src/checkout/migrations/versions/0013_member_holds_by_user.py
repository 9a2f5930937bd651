"""Unreleased checkouts by user and tier: the occupancy statement can find a member's seat
holds, and the paid checkouts a membership now counts, by one index probe per member reported
instead of scanning every checkout ever made (which Postgres still does on a small table).

Revision ID: 0013
Revises: 0012
"""

from alembic import op

revision = "0013"
down_revision = "0012"


def upgrade() -> None:
    op.create_index(
        "ix_checkout_sessions_user_holds",
        "checkout_sessions",
        ["user_id", "tier_id"],
        postgresql_where="released_at IS NULL",
    )


def downgrade() -> None:
    op.drop_index("ix_checkout_sessions_user_holds", table_name="checkout_sessions")
