"""The checkout database's tables."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from tollgate_shared.persistence.db import inbox_table, make_metadata, outbox_table

metadata = make_metadata()
inbox = inbox_table(metadata)
outbox = outbox_table(metadata)


def _timestamps() -> list[Column]:  # type: ignore[type-arg]
    return [
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    ]


tiers = Table(
    "tiers",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("group_id", String(100), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=True),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("interval", String(20), nullable=False),
    Column("capacity", Integer, nullable=True),
    Column("active", Boolean, nullable=False),
    Column("credit_allowances", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("segment_prices", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("trial_days", Integer, nullable=False, server_default=text("0")),
    Column("stripe_product_id", String(100), nullable=True),
    Column("version", Integer, nullable=False, server_default=text("1")),
    Column("synced_version", Integer, nullable=True),
    # One more at each change of the seats checkouts hold on a tier with a capacity (announced
    # as `checkout.tier.seats_held`); incremented under the tier's row lock.
    Column("seats_revision", Integer, nullable=False, server_default=text("0")),
    *_timestamps(),
)

items = Table(
    "items",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("group_id", String(100), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=True),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("capacity", Integer, nullable=True),
    # Each reference is one slot, one buyer.
    Column("slots", Boolean, nullable=False, server_default=text("false")),
    Column("stripe_product_id", String(100), nullable=True),
    Column("version", Integer, nullable=False, server_default=text("1")),
    Column("synced_version", Integer, nullable=True),
    *_timestamps(),
)

# Stripe prices of tiers and items; `owner_id` is the tier's or item's id.
prices = Table(
    "prices",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("owner_id", String(40), nullable=False),
    Column("segment", String(50), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("interval", String(20), nullable=False),
    Column("stripe_price_id", String(100), nullable=False, unique=True),
    Column("active", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_prices_owner_active", "owner_id", "active"),
)

customers = Table(
    "customers",
    metadata,
    Column("user_id", String(100), primary_key=True),
    Column("stripe_customer_id", String(100), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Memberships as the membership service reports them (`membership.*`), for seat counting.
members = Table(
    "members",
    metadata,
    # As long as membership's ids (`tollgate_shared.web.validation.MAX_ID_LENGTH`).
    Column("user_id", String(255), primary_key=True),
    Column("group_id", String(255), primary_key=True),
    Column("tier_id", String(255), nullable=True),
    Column("active", Boolean, nullable=False),
    Column("subscription_id", String(255), nullable=True),
    Column("event_at", DateTime(timezone=True), nullable=False),
    Index("ix_members_tier_active", "tier_id", postgresql_where=text("active")),
)

checkout_sessions = Table(
    "checkout_sessions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("user_id", String(100), nullable=False),
    Column("group_id", String(100), nullable=False),
    Column("purpose", String(20), nullable=False),
    # `session`, or for the app's own card form `subscription` / `payment_intent`.
    Column("kind", String(20), nullable=False, server_default=text("'session'")),
    Column("tier_id", String(40), nullable=True),
    Column("item_id", String(40), nullable=True),
    Column("reference", String(200), nullable=True),
    Column("idempotency_key", String(300), nullable=True),
    Column("request_hash", String(64), nullable=False),
    Column("price_id", String(100), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("coupon_id", String(40), nullable=True),
    # The Checkout Session, subscription or PaymentIntent (`cs_`/`sub_`/`pi_`).
    Column("stripe_id", String(100), nullable=True, unique=True),
    Column("url", Text, nullable=True),
    Column("email", String(320), nullable=True),
    Column("status", String(20), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("released_at", DateTime(timezone=True), nullable=True),
    Column("paid_at", DateTime(timezone=True), nullable=True),
    Column("claimed_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index(
        "uq_checkout_sessions_idempotency",
        "user_id",
        "idempotency_key",
        unique=True,
        postgresql_where=text("idempotency_key IS NOT NULL"),
    ),
    Index(
        "ix_checkout_sessions_holds",
        "tier_id",
        postgresql_where=text("released_at IS NULL AND purpose = 'membership'"),
    ),
    Index(
        "ix_checkout_sessions_user_holds",
        "user_id",
        "tier_id",
        postgresql_where=text("released_at IS NULL"),
    ),
    Index(
        "ix_checkout_sessions_purchase_holds",
        "item_id",
        "reference",
        postgresql_where=text("released_at IS NULL AND purpose = 'purchase'"),
    ),
)

coupons = Table(
    "coupons",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("group_id", String(100), nullable=False, index=True),
    Column("code", String(100), nullable=False),
    Column("percent_off", Numeric(5, 2), nullable=True),
    Column("amount_off", BigInteger, nullable=True),
    Column("currency", String(3), nullable=True),
    Column("duration", String(20), nullable=False),
    Column("duration_in_months", Integer, nullable=True),
    Column("valid_from", DateTime(timezone=True), nullable=True),
    Column("valid_until", DateTime(timezone=True), nullable=True),
    Column("max_redemptions", Integer, nullable=True),
    Column("tier_ids", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("active", Boolean, nullable=False),
    Column("stripe_coupon_id", String(100), nullable=True),
    Column("stripe_promotion_code_id", String(100), nullable=True),
    # What customers type on Stripe's page: the code, or the group-qualified one (see README).
    Column("stripe_code", String(100), nullable=True),
    Column("name", String(40), nullable=True),
    Column("first_time_transaction", Boolean, nullable=False, server_default=text("false")),
    Column("minimum_amount", BigInteger, nullable=True),
    Column("minimum_amount_currency", String(3), nullable=True),
    # Which promotion code of the coupon is current (one more per replacement), the terms it
    # was made with, and the Stripe ids it replaced (redemptions through them still count).
    Column("promotion_revision", Integer, nullable=False, server_default=text("0")),
    Column("promotion_terms", JSONB, nullable=True),
    Column("retired_stripe_ids", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    # Stripe coupons made before promotion codes carried the window's end had it as redeem_by.
    Column("stripe_coupon_redeem_by", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Normalized codes are unique per group: two groups may each have WELCOME.
    UniqueConstraint("group_id", "code", name="uq_coupons_group_id_code"),
)

coupon_redemptions = Table(
    "coupon_redemptions",
    metadata,
    Column("stripe_session_id", String(100), primary_key=True),
    Column("coupon_id", String(40), nullable=False, index=True),
    Column("user_id", String(100), nullable=False),
    Column("group_id", String(100), nullable=False),
    Column("tier_id", String(40), nullable=True),
    Column("item_id", String(40), nullable=True),
    Column("amount_discount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("redeemed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Each group's settings as last set (a group without a row has the defaults), and their revision.
group_settings = Table(
    "group_settings",
    metadata,
    Column("group_id", String(100), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("contact_email", String(254), nullable=True),
    Column("proration_behavior", String(30), nullable=False),
    Column("one_time_switch", String(20), nullable=False),
    Column("payout_auto_approve_below", JSONB, nullable=False),
    Column("organizer_mail_opt_outs", JSONB, nullable=False),
    Column("sale_notice_digest", Boolean, nullable=False),
    Column("allow_pause", Boolean, nullable=False, server_default=text("false")),
    Column("revision", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
