"""The membership database's tables."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    String,
    Table,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from tollgate_shared.persistence.db import inbox_table, make_metadata, outbox_table

metadata = make_metadata()
inbox = inbox_table(metadata)
outbox = outbox_table(metadata)


def _updated_at() -> Column[object]:
    return Column(
        "updated_at",
        DateTime(timezone=True),
        nullable=False,
        server_default=func.now(),
        onupdate=func.now(),
    )


subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("user_id", String(255), nullable=False),
    Column("group_id", String(255), nullable=False),
    Column("tier_id", String(255)),
    Column("customer_id", String(255)),
    Column("status", String(32), nullable=False),
    Column("cancel_at_period_end", Boolean, nullable=False),
    Column("period_end", DateTime(timezone=True)),
    Column("period_start", DateTime(timezone=True)),  # orders snapshots of one second
    Column("price_id", String(255)),  # what it bills, for the member's list
    Column("unit_amount", BigInteger),
    Column("currency", String(3)),
    Column("interval", String(16)),
    Column("created", BigInteger, nullable=False),  # Stripe's subscription.created
    Column("version", BigInteger, nullable=False),  # Stripe time of the data applied
    Column("version_from", BigInteger),  # a read's earliest possible second (None: = version)
    Column("last_event_id", String(255)),
    Column("past_due_since", DateTime(timezone=True)),
    Column("previous_subscription_id", String(255)),
    Column("email", String(320)),
    Column("cancel_requested_at", DateTime(timezone=True)),
    Column("pause_behavior", String(32)),  # payment collection paused, if set
    Column("pause_resumes_at", DateTime(timezone=True)),
    Column("paid_through", DateTime(timezone=True)),  # the latest period end paid invoices reach
    _updated_at(),
    Index("ix_subscriptions_user_group", "user_id", "group_id"),
)

terms = Table(
    "one_time_terms",
    metadata,
    Column("id", String(255), primary_key=True),  # the Checkout Session
    Column("payment_intent_id", String(255), unique=True),
    Column("user_id", String(255), nullable=False),
    Column("group_id", String(255), nullable=False),
    Column("tier_id", String(255)),
    Column("paid_at", DateTime(timezone=True), nullable=False),
    Column("term_days", Integer, nullable=False),
    Column("email", String(320)),
    Column("starts_at", DateTime(timezone=True)),  # after a subscription it replaces (else paid_at)
    _updated_at(),
    Index("ix_one_time_terms_user_group", "user_id", "group_id"),
)

# Full refunds and lost disputes by payment intent: facts kept even when they arrive before
# the payment they reverse, and joined to terms when read.
reversals = Table(
    "reversals",
    metadata,
    Column("payment_intent_id", String(255), primary_key=True),
    Column("reason", String(64), nullable=False),
    Column("reversed_at", DateTime(timezone=True), nullable=False),
)

grants = Table(
    "grants",
    metadata,
    Column("group_id", String(255), primary_key=True),
    Column("user_id", String(255), primary_key=True),
    Column("tier_id", String(255)),
    Column("kind", String(16), nullable=False),
    Column("reason", String(500)),
    Column("email", String(320)),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Column("granted_by", String(255), nullable=False),
    Column("grace_months", Integer),  # the grace rule: months from the first sign-in
    Column("first_seen_at", DateTime(timezone=True)),
    _updated_at(),
    Index("ix_grants_user", "user_id"),
)

memberships = Table(
    "memberships",
    metadata,
    Column("group_id", String(255), primary_key=True),
    Column("user_id", String(255), primary_key=True),
    Column("active", Boolean, nullable=False),  # as last announced
    Column("tier_id", String(255)),
    Column("source", String(16)),
    Column("status", String(32), nullable=False),
    Column("subscription_id", String(255)),
    Column("expires_at", DateTime(timezone=True)),
    Column("open_ended", Boolean, nullable=False),
    Column("access_until", DateTime(timezone=True)),
    Column("next_change_at", DateTime(timezone=True)),
    Column("email", String(320)),
    _updated_at(),
    Index("ix_memberships_next_change", "next_change_at"),
    Index("ix_memberships_user", "user_id"),
)

credit_balances = Table(
    "credit_balances",
    metadata,
    Column("group_id", String(255), primary_key=True),
    Column("user_id", String(255), primary_key=True),
    Column("kind", String(40), primary_key=True),
    Column("balance", BigInteger, nullable=False),
    _updated_at(),
    CheckConstraint("balance >= 0", name="ck_credit_balances_not_negative"),
)

# One row per paid cycle (invoice or Checkout Session): allocating it again is a no-op.
credit_allocations = Table(
    "credit_allocations",
    metadata,
    Column("group_id", String(255), primary_key=True),
    Column("user_id", String(255), primary_key=True),
    Column("cause", String(255), primary_key=True),
    Column("allowances", JSONB, nullable=False),
    Column("cycle_start", DateTime(timezone=True), nullable=False),
    Column("cycle_end", DateTime(timezone=True)),
    Column("applied", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_credit_allocations_pending", "cycle_start", postgresql_where=text("NOT applied")),
)

credit_entries = Table(
    "credit_entries",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("group_id", String(255), nullable=False),
    Column("user_id", String(255), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("type", String(16), nullable=False),  # allocated | expired | spent
    Column("delta", BigInteger, nullable=False),
    Column("balance_after", BigInteger, nullable=False),
    Column("cause", String(255), nullable=False),  # invoice / Checkout Session / spend reference
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_credit_entries_member", "group_id", "user_id", "id"),
)

# The answer to each spend request, by idempotency key (per member).
credit_spends = Table(
    "credit_spends",
    metadata,
    Column("group_id", String(255), primary_key=True),
    Column("user_id", String(255), primary_key=True),
    Column("idempotency_key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("reference", String(255), nullable=False),
    Column("spent", Boolean),  # null while the first request is being answered
    Column("balance", BigInteger),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Each group's settings membership applies, as checkout last announced them (`revision`).
group_settings = Table(
    "group_settings",
    metadata,
    Column("group_id", String(255), primary_key=True),
    Column("revision", BigInteger, nullable=False),
    Column("proration_behavior", String(32), nullable=False),
    Column("one_time_switch", String(16), nullable=False),
    Column("allow_pause", Boolean, nullable=False, server_default=false()),
    _updated_at(),
)

# Each tier's capacity as checkout last announced it (`revision`), and the seats its unpaid
# checkouts hold (`holds_revision`, until `held_until`): a switch into a full tier is refused.
tiers = Table(
    "tiers",
    metadata,
    Column("tier_id", String(255), primary_key=True),
    Column("group_id", String(255), nullable=False),
    Column("revision", BigInteger, nullable=False),
    Column("capacity", Integer),
    Column("holds_revision", BigInteger, nullable=False, server_default="0"),
    Column("held", Integer, nullable=False, server_default="0"),
    Column("held_until", DateTime(timezone=True)),
    _updated_at(),
)
