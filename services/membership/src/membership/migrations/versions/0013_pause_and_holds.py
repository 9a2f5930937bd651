"""Paused payment collection (a subscription's pause and what its invoices paid through, a
group's permission) and the seats unpaid checkouts hold on a tier.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"


def upgrade() -> None:
    op.add_column("subscriptions", sa.Column("pause_behavior", sa.String(32)))
    op.add_column("subscriptions", sa.Column("pause_resumes_at", sa.DateTime(timezone=True)))
    op.add_column("subscriptions", sa.Column("paid_through", sa.DateTime(timezone=True)))
    op.add_column(
        "group_settings",
        sa.Column("allow_pause", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "tiers", sa.Column("holds_revision", sa.BigInteger, nullable=False, server_default="0")
    )
    op.add_column("tiers", sa.Column("held", sa.Integer, nullable=False, server_default="0"))
    op.add_column("tiers", sa.Column("held_until", sa.DateTime(timezone=True)))


def downgrade() -> None:
    for column in ("held_until", "held", "holds_revision"):
        op.drop_column("tiers", column)
    op.drop_column("group_settings", "allow_pause")
    for column in ("paid_through", "pause_resumes_at", "pause_behavior"):
        op.drop_column("subscriptions", column)
