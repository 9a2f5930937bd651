"""Subscriptions, one-time terms and their reversals, grants, and announced memberships.

Revision ID: 0002
Revises: 0001
"""

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def _updated_at() -> sa.Column[datetime]:
    return sa.Column(
        "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("group_id", sa.String(255), nullable=False),
        sa.Column("tier_id", sa.String(255)),
        sa.Column("customer_id", sa.String(255)),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("cancel_at_period_end", sa.Boolean, nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True)),
        sa.Column("created", sa.BigInteger, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("last_event_id", sa.String(255)),
        sa.Column("past_due_since", sa.DateTime(timezone=True)),
        sa.Column("previous_subscription_id", sa.String(255)),
        sa.Column("email", sa.String(320)),
        sa.Column("cancel_requested_at", sa.DateTime(timezone=True)),
        _updated_at(),
    )
    op.create_index("ix_subscriptions_user_group", "subscriptions", ["user_id", "group_id"])
    op.create_table(
        "one_time_terms",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("payment_intent_id", sa.String(255), unique=True),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("group_id", sa.String(255), nullable=False),
        sa.Column("tier_id", sa.String(255)),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("term_days", sa.Integer, nullable=False),
        sa.Column("email", sa.String(320)),
        _updated_at(),
    )
    op.create_index("ix_one_time_terms_user_group", "one_time_terms", ["user_id", "group_id"])
    op.create_table(
        "reversals",
        sa.Column("payment_intent_id", sa.String(255), primary_key=True),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("reversed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "grants",
        sa.Column("group_id", sa.String(255), primary_key=True),
        sa.Column("user_id", sa.String(255), primary_key=True),
        sa.Column("tier_id", sa.String(255)),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(500)),
        sa.Column("email", sa.String(320)),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("granted_by", sa.String(255), nullable=False),
        _updated_at(),
    )
    op.create_index("ix_grants_user", "grants", ["user_id"])
    op.create_table(
        "memberships",
        sa.Column("group_id", sa.String(255), primary_key=True),
        sa.Column("user_id", sa.String(255), primary_key=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("tier_id", sa.String(255)),
        sa.Column("source", sa.String(16)),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("subscription_id", sa.String(255)),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("open_ended", sa.Boolean, nullable=False),
        sa.Column("access_until", sa.DateTime(timezone=True)),
        sa.Column("next_change_at", sa.DateTime(timezone=True)),
        sa.Column("email", sa.String(320)),
        _updated_at(),
    )
    op.create_index("ix_memberships_next_change", "memberships", ["next_change_at"])
    op.create_index("ix_memberships_user", "memberships", ["user_id"])


def downgrade() -> None:
    for table in ("memberships", "grants", "reversals", "one_time_terms", "subscriptions"):
        op.drop_table(table)
