"""Payout schedules run by the ledger itself: each schedule's next due date, approved requests
found by when they were approved, and what checkout announces of each group (its name, its
payout auto-approval thresholds).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"

# A schedule set before due dates were kept is next due at the start of its next period
# (`domain.payouts.next_due`: Monday 00:00 UTC, the 1st of the month 00:00 UTC).
FIRST_DUE = """
UPDATE payout_schedules SET next_due_at = CASE interval
    WHEN 'weekly' THEN date_trunc('week', now() AT TIME ZONE 'UTC') + interval '7 days'
    ELSE date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month'
END AT TIME ZONE 'UTC'
WHERE interval IN ('weekly', 'monthly')
"""


def upgrade() -> None:
    op.add_column("payout_schedules", sa.Column("next_due_at", sa.DateTime(timezone=True)))
    op.execute(FIRST_DUE)
    op.create_index(
        "ix_payout_schedules_due",
        "payout_schedules",
        ["next_due_at"],
        postgresql_where=sa.text("next_due_at IS NOT NULL"),
    )
    op.create_index(
        "ix_payout_requests_approved",
        "payout_requests",
        ["decided_at"],
        postgresql_where=sa.text("status = 'approved'"),
    )
    op.create_table(
        "group_settings",
        sa.Column("group_id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "payout_auto_approve_below",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("group_id", name=op.f("pk_group_settings")),
    )


def downgrade() -> None:
    op.drop_table("group_settings")
    op.drop_index("ix_payout_requests_approved", table_name="payout_requests")
    op.drop_index("ix_payout_schedules_due", table_name="payout_schedules")
    op.drop_column("payout_schedules", "next_due_at")
