"""Ledger tables; entries that balance per transaction and currency and are never edited.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

TABLES = (
    "ledger_entries",
    "ledger_transactions",
    "payments",
    "invoices",
    "refunds",
    "disputes",
    "risk_items",
    "timeline",
    "payout_schedules",
    "payout_requests",
)

# Checked at commit, so a transaction's entries may be inserted one by one.
BALANCE_CHECK = """
CREATE FUNCTION ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    entry_count integer;
    unbalanced text;
BEGIN
    SELECT count(*) INTO entry_count FROM ledger_entries WHERE transaction_id = NEW.transaction_id;
    SELECT string_agg(currency || '=' || total, ', ') INTO unbalanced FROM (
        SELECT currency, sum(amount) AS total FROM ledger_entries
        WHERE transaction_id = NEW.transaction_id GROUP BY currency
    ) t WHERE total <> 0;
    IF entry_count < 2 OR unbalanced IS NOT NULL THEN
        RAISE EXCEPTION 'ledger transaction % does not balance (% entries; %)',
            NEW.transaction_id, entry_count, coalesce(unbalanced, 'one-sided');
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER ledger_entries_balanced AFTER INSERT ON ledger_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced();
"""

IMMUTABLE = """
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME;
END $$;
CREATE TRIGGER ledger_transactions_immutable BEFORE UPDATE OR DELETE ON ledger_transactions
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_entries_immutable BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
"""


def upgrade() -> None:
    op.create_table(
        "disputes",
        sa.Column("dispute_id", sa.String(length=100), nullable=False),
        sa.Column("charge_id", sa.String(length=100), nullable=False),
        sa.Column("group_id", sa.String(length=100), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_at", sa.BigInteger(), nullable=False),
        sa.Column("status_rank", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("dispute_id", name=op.f("pk_disputes")),
    )
    op.create_table(
        "invoices",
        sa.Column("invoice_id", sa.String(length=100), nullable=False),
        sa.Column("customer_id", sa.String(length=100), nullable=True),
        sa.Column("group_id", sa.String(length=100), nullable=True),
        sa.Column("user_id", sa.String(length=100), nullable=True),
        sa.Column("tier_id", sa.String(length=100), nullable=True),
        sa.Column("number", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=40), nullable=True),
        sa.Column("amount_due", sa.BigInteger(), nullable=False),
        sa.Column("amount_paid", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("hosted_invoice_url", sa.String(length=1000), nullable=True),
        sa.Column("invoice_pdf", sa.String(length=1000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_at", sa.BigInteger(), nullable=False),
        sa.Column("status_rank", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("invoice_id", name=op.f("pk_invoices")),
    )
    op.create_table(
        "ledger_transactions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("group_id", sa.String(length=100), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("source_id", sa.String(length=100), nullable=False),
        sa.Column("charge_id", sa.String(length=100), nullable=True),
        sa.Column("invoice_id", sa.String(length=100), nullable=True),
        sa.Column("balance_transaction_id", sa.String(length=100), nullable=True),
        sa.Column("user_id", sa.String(length=100), nullable=True),
        sa.Column("tier_id", sa.String(length=100), nullable=True),
        sa.Column("purpose", sa.String(length=40), nullable=True),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("causation_id", sa.String(length=100), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_transactions")),
        sa.UniqueConstraint("key", name=op.f("uq_ledger_transactions_key")),
    )
    op.create_table(
        "payments",
        sa.Column("charge_id", sa.String(length=100), nullable=False),
        sa.Column("payment_intent_id", sa.String(length=100), nullable=True),
        sa.Column("invoice_id", sa.String(length=100), nullable=True),
        sa.Column("customer_id", sa.String(length=100), nullable=True),
        sa.Column("group_id", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.String(length=100), nullable=True),
        sa.Column("tier_id", sa.String(length=100), nullable=True),
        sa.Column("purpose", sa.String(length=40), nullable=True),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("receipt_url", sa.String(length=1000), nullable=True),
        sa.Column("hosted_invoice_url", sa.String(length=1000), nullable=True),
        sa.Column("invoice_pdf", sa.String(length=1000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("charge_id", name=op.f("pk_payments")),
    )
    op.create_table(
        "payout_requests",
        sa.Column("payout_id", sa.String(length=40), nullable=False),
        sa.Column("group_id", sa.String(length=100), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("destination_account", sa.String(length=100), nullable=True),
        sa.Column("transfer_id", sa.String(length=100), nullable=True),
        sa.Column("failure", sa.String(length=500), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("payout_id", name=op.f("pk_payout_requests")),
        sa.UniqueConstraint("group_id", "idempotency_key", name="uq_payout_requests_idempotency"),
        sa.UniqueConstraint("transfer_id", name=op.f("uq_payout_requests_transfer_id")),
    )
    op.create_table(
        "payout_schedules",
        sa.Column("group_id", sa.String(length=100), nullable=False),
        sa.Column("interval", sa.String(length=20), nullable=False),
        sa.Column("minimum_amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("destination_account", sa.String(length=100), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("group_id", name=op.f("pk_payout_schedules")),
    )
    op.create_table(
        "refunds",
        sa.Column("refund_id", sa.String(length=100), nullable=False),
        sa.Column("charge_id", sa.String(length=100), nullable=False),
        sa.Column("group_id", sa.String(length=100), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.String(length=100), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("requested_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("refund_id", name=op.f("pk_refunds")),
    )
    op.create_table(
        "risk_items",
        sa.Column("risk_id", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("charge_id", sa.String(length=100), nullable=True),
        sa.Column("group_id", sa.String(length=100), nullable=True),
        sa.Column("user_id", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_at", sa.BigInteger(), nullable=False),
        sa.Column("status_rank", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("risk_id", name=op.f("pk_risk_items")),
    )
    op.create_table(
        "timeline",
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("object_id", sa.String(length=100), nullable=False),
        sa.Column("charge_id", sa.String(length=100), nullable=True),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "object_id", name=op.f("pk_timeline")),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("transaction_id", sa.BigInteger(), nullable=False),
        sa.Column("group_id", sa.String(length=100), nullable=False),
        sa.Column("account", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_ledger_entries_transaction_id_ledger_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
    )
    op.create_index("ix_disputes_group", "disputes", ["group_id", "created_at"], unique=False)
    op.create_index("ix_invoices_user_created", "invoices", ["user_id", "created_at"], unique=False)
    op.create_index(
        "ix_ledger_transactions_group", "ledger_transactions", ["group_id", "id"], unique=False
    )
    op.create_index(
        "ix_ledger_transactions_bt", "ledger_transactions", ["balance_transaction_id"], unique=False
    )
    op.create_index(
        "ix_ledger_transactions_charge", "ledger_transactions", ["charge_id"], unique=False
    )
    op.create_index("ix_payments_user_created", "payments", ["user_id", "created_at"], unique=False)
    op.create_index(
        "ix_payments_group_created", "payments", ["group_id", "created_at"], unique=False
    )
    op.create_index("ix_payments_email", "payments", ["email"], unique=False)
    op.create_index(
        "ix_payout_requests_group", "payout_requests", ["group_id", "created_at"], unique=False
    )
    op.create_index("ix_refunds_charge", "refunds", ["charge_id"], unique=False)
    op.create_index("ix_risk_items_group", "risk_items", ["group_id", "created_at"], unique=False)
    op.create_index("ix_timeline_charge", "timeline", ["charge_id", "occurred_at"], unique=False)
    op.create_index(
        "ix_ledger_entries_group_period",
        "ledger_entries",
        ["group_id", "currency", "occurred_at"],
        unique=False,
    )
    op.create_index(
        "ix_ledger_entries_transaction", "ledger_entries", ["transaction_id"], unique=False
    )

    op.execute(BALANCE_CHECK)
    op.execute(IMMUTABLE)


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table)
    op.execute("DROP FUNCTION ledger_check_balanced()")
    op.execute("DROP FUNCTION ledger_refuse_change()")
