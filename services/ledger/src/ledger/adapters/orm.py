"""The ledger database's tables (migrated by `migrations/versions/0002_ledger.py`)."""

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
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


def _created() -> Column[object]:
    return Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now())


transactions = Table(
    "ledger_transactions",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("key", String(200), nullable=False, unique=True),
    Column("kind", String(40), nullable=False),
    Column("group_id", String(100), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("source_id", String(100), nullable=False),
    Column("charge_id", String(100)),
    Column("invoice_id", String(100)),
    Column("balance_transaction_id", String(100)),
    Column("user_id", String(100)),
    Column("tier_id", String(100)),
    Column("purpose", String(40)),
    Column("reference", String(200)),
    Column("description", String(500)),
    Column("causation_id", String(255)),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    _created(),
    Index("ix_ledger_transactions_group", "group_id", "id"),
    Index("ix_ledger_transactions_charge", "charge_id"),
    Index("ix_ledger_transactions_bt", "balance_transaction_id"),
)

entries = Table(
    "ledger_entries",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("transaction_id", BigInteger, ForeignKey("ledger_transactions.id"), nullable=False),
    Column("group_id", String(100), nullable=False),
    Column("account", String(40), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Index("ix_ledger_entries_group_period", "group_id", "currency", "occurred_at"),
    Index("ix_ledger_entries_transaction", "transaction_id"),
)

payments = Table(
    "payments",
    metadata,
    Column("charge_id", String(100), primary_key=True),
    Column("payment_intent_id", String(100)),
    Column("invoice_id", String(100)),
    Column("customer_id", String(100)),
    Column("group_id", String(100), nullable=False),
    Column("user_id", String(100)),
    Column("tier_id", String(100)),
    Column("purpose", String(40)),
    Column("reference", String(200)),
    Column("amount", BigInteger, nullable=False),
    Column("fee", BigInteger),  # null until the fee task has read it (`service_layer/fees.py`)
    Column("currency", String(3), nullable=False),
    Column("email", String(320)),
    Column("description", String(500)),
    Column("receipt_url", String(1000)),
    Column("hosted_invoice_url", String(1000)),
    Column("invoice_pdf", String(1000)),
    Column("period_start", DateTime(timezone=True)),
    Column("period_end", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    _created(),
    Index("ix_payments_group_created", "group_id", "created_at"),
    Index("ix_payments_user_created", "user_id", "created_at"),
    Index("ix_payments_email", "email"),
    Index("ix_payments_payment_intent", "payment_intent_id"),
    Index("ix_payments_invoice", "invoice_id"),
    Index("ix_payments_fee_unknown", "created_at", postgresql_where=text("fee IS NULL")),
)

invoices = Table(
    "invoices",
    metadata,
    Column("invoice_id", String(100), primary_key=True),
    Column("customer_id", String(100)),
    Column("group_id", String(100)),
    Column("user_id", String(100)),
    Column("tier_id", String(100)),
    Column("number", String(100)),
    Column("status", String(40)),
    Column("amount_due", BigInteger, nullable=False),
    Column("amount_paid", BigInteger, nullable=False),
    Column("currency", String(3)),
    Column("hosted_invoice_url", String(1000)),
    Column("invoice_pdf", String(1000)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("status_at", BigInteger, nullable=False),
    Column("status_rank", Integer, nullable=False),
    Index("ix_invoices_user_created", "user_id", "created_at"),
)

refunds = Table(
    "refunds",
    metadata,
    Column("refund_id", String(100), primary_key=True),
    Column("charge_id", String(100), nullable=False),
    Column("group_id", String(100), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(40), nullable=False),
    Column("reason", String(100)),
    Column("note", String(500)),
    Column("requested_by", String(100)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("status_at", BigInteger, nullable=False),
    Column("status_rank", Integer, nullable=False),
    Index("ix_refunds_charge", "charge_id"),
)

disputes = Table(
    "disputes",
    metadata,
    Column("dispute_id", String(100), primary_key=True),
    Column("charge_id", String(100), nullable=False),
    Column("group_id", String(100), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(40), nullable=False),
    Column("reason", String(100)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("status_at", BigInteger, nullable=False),
    Column("status_rank", Integer, nullable=False),
    Index("ix_disputes_group", "group_id", "created_at"),
)

risk_items = Table(
    "risk_items",
    metadata,
    Column("risk_id", String(100), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("charge_id", String(100)),
    Column("group_id", String(100)),
    Column("user_id", String(100)),
    Column("status", String(40), nullable=False),
    Column("reason", String(100)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("status_at", BigInteger, nullable=False),
    Column("status_rank", Integer, nullable=False),
    Index("ix_risk_items_group", "group_id", "created_at"),
)

timeline = Table(
    "timeline",
    metadata,
    Column("event_id", String(255), primary_key=True),
    Column("object_id", String(100), primary_key=True),
    Column("charge_id", String(100)),
    Column("event_type", String(100), nullable=False),
    Column("status", String(40)),
    Column("amount", BigInteger),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Index("ix_timeline_charge", "charge_id", "occurred_at"),
)

payment_parts = Table(
    "payment_parts",
    metadata,
    Column("kind", String(20), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("partner", String(100)),
    Column("facts", JSONB, nullable=False),
    _created(),
    Index("ix_payment_parts_partner", "kind", "partner"),
    Index("ix_payment_parts_recorded", "recorded_at"),
)
"""What Stripe's events told about a payment not yet booked, until its other parts arrive
(`adapters/parts.py`): a charge, an invoice, an invoice payment, a checkout, an early event."""

payment_failures = Table(
    "payment_failures",
    metadata,
    Column("failure_id", String(100), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("group_id", String(100), nullable=False),
    Column("user_id", String(100)),
    Column("email", String(320)),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("code", String(100)),
    Column("decline_code", String(100)),
    Column("message", String(500)),
    Column("payment_intent_id", String(100)),
    Column("invoice_id", String(100)),
    Column("attempts", Integer, nullable=False, server_default="1"),
    Column("failed_at", DateTime(timezone=True), nullable=False),
    Index("ix_payment_failures_group", "group_id", "failed_at"),
)
"""Declined and failed payments of a group (they move no money): a declined charge (by its id),
an intent whose 3-D Secure challenge failed before any charge (by the intent), a subscription
invoice whose payment failed (by the invoice, its newest attempt)."""

payout_schedules = Table(
    "payout_schedules",
    metadata,
    Column("group_id", String(100), primary_key=True),
    Column("interval", String(20), nullable=False),
    Column("minimum_amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("destination_account", String(100)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("next_due_at", DateTime(timezone=True)),
    Index(
        "ix_payout_schedules_due", "next_due_at", postgresql_where=text("next_due_at IS NOT NULL")
    ),
)
"""A group's payout schedule; `next_due_at` (null when manual) is when the schedule task next
requests what is available (`service_layer/schedules.py`)."""

payout_requests = Table(
    "payout_requests",
    metadata,
    Column("payout_id", String(40), primary_key=True),
    Column("group_id", String(100), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(20), nullable=False),
    Column("requested_by", String(100), nullable=False),
    Column("decided_by", String(100)),
    Column("destination_account", String(100)),
    Column("transfer_id", String(100), unique=True),
    Column("failure", String(500)),
    Column("idempotency_key", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("decided_at", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False, server_default="0"),
    UniqueConstraint("group_id", "idempotency_key", name="uq_payout_requests_idempotency"),
    Index("ix_payout_requests_group", "group_id", "created_at"),
    Index(
        "ix_payout_requests_approved", "decided_at", postgresql_where=text("status = 'approved'")
    ),
)

group_settings = Table(
    "group_settings",
    metadata,
    Column("group_id", String(100), primary_key=True),
    Column("name", Text, nullable=False),
    Column("payout_auto_approve_below", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("revision", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
"""What checkout announces of a group (`checkout.group.settings_changed`), as of its highest
revision: its name, and per currency the amount below which scheduled payouts are approved
without an admin."""
