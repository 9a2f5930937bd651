"""Catalog, prices, customers, members, checkout sessions, coupons and redemptions.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"

NOW = sa.func.now()


def _created() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW)


def _updated() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW)


def _product_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("group_id", sa.String(100), nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
    ]


def _sync_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("stripe_product_id", sa.String(100), nullable=True),
        sa.Column("version", sa.Integer, nullable=False, server_default=sa.text("1")),
        sa.Column("synced_version", sa.Integer, nullable=True),
        _created(),
        _updated(),
    ]


def upgrade() -> None:
    op.create_table(
        "tiers",
        *_product_columns(),
        sa.Column("interval", sa.String(20), nullable=False),
        sa.Column("capacity", sa.Integer, nullable=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column(
            "credit_allowances", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")
        ),
        sa.Column("segment_prices", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        *_sync_columns(),
    )
    op.create_table(
        "items",
        *_product_columns(),
        sa.Column("active", sa.Boolean, nullable=False),
        *_sync_columns(),
    )
    op.create_table(
        "prices",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("owner_id", sa.String(40), nullable=False),
        sa.Column("segment", sa.String(50), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("interval", sa.String(20), nullable=False),
        sa.Column("stripe_price_id", sa.String(100), nullable=False, unique=True),
        sa.Column("active", sa.Boolean, nullable=False),
        _created(),
    )
    op.create_index("ix_prices_owner_active", "prices", ["owner_id", "active"])
    op.create_table(
        "customers",
        sa.Column("user_id", sa.String(100), primary_key=True),
        sa.Column("stripe_customer_id", sa.String(100), nullable=False, unique=True),
        _created(),
    )
    op.create_table(
        "members",
        sa.Column("user_id", sa.String(100), primary_key=True),
        sa.Column("group_id", sa.String(100), primary_key=True),
        sa.Column("tier_id", sa.String(40), nullable=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("subscription_id", sa.String(100), nullable=True),
        sa.Column("event_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_members_tier_active", "members", ["tier_id"], postgresql_where=sa.text("active")
    )
    op.create_table(
        "checkout_sessions",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("user_id", sa.String(100), nullable=False),
        sa.Column("group_id", sa.String(100), nullable=False),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("tier_id", sa.String(40), nullable=True),
        sa.Column("item_id", sa.String(40), nullable=True),
        sa.Column("reference", sa.String(200), nullable=True),
        sa.Column("idempotency_key", sa.String(300), nullable=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("price_id", sa.String(100), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("coupon_id", sa.String(40), nullable=True),
        sa.Column("stripe_session_id", sa.String(100), nullable=True, unique=True),
        sa.Column("url", sa.Text, nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        _created(),
    )
    op.create_index(
        "uq_checkout_sessions_idempotency",
        "checkout_sessions",
        ["user_id", "idempotency_key"],
        unique=True,
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )
    op.create_index(
        "ix_checkout_sessions_holds",
        "checkout_sessions",
        ["tier_id"],
        postgresql_where=sa.text("released_at IS NULL AND purpose = 'membership'"),
    )
    op.create_table(
        "coupons",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("group_id", sa.String(100), nullable=False, index=True),
        sa.Column("code", sa.String(100), nullable=False, unique=True),
        sa.Column("percent_off", sa.Numeric(5, 2), nullable=True),
        sa.Column("amount_off", sa.BigInteger, nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("duration", sa.String(20), nullable=False),
        sa.Column("duration_in_months", sa.Integer, nullable=True),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("max_redemptions", sa.Integer, nullable=True),
        sa.Column("tier_ids", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("stripe_coupon_id", sa.String(100), nullable=True),
        sa.Column("stripe_promotion_code_id", sa.String(100), nullable=True),
        _created(),
    )
    op.create_table(
        "coupon_redemptions",
        sa.Column("stripe_session_id", sa.String(100), primary_key=True),
        sa.Column("coupon_id", sa.String(40), nullable=False, index=True),
        sa.Column("user_id", sa.String(100), nullable=False),
        sa.Column("group_id", sa.String(100), nullable=False),
        sa.Column("tier_id", sa.String(40), nullable=True),
        sa.Column("item_id", sa.String(40), nullable=True),
        sa.Column("amount_discount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    )


def downgrade() -> None:
    for table in (
        "coupon_redemptions",
        "coupons",
        "checkout_sessions",
        "members",
        "customers",
        "prices",
        "items",
        "tiers",
    ):
        op.drop_table(table)
