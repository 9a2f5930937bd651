"""Credits: balances per member and kind, allocations per paid cycle, history, spend answers.

Revision ID: 0003
Revises: 0002
"""

from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"


def _created_at() -> sa.Column[datetime]:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )


def upgrade() -> None:
    op.create_table(
        "credit_balances",
        sa.Column("group_id", sa.String(255), primary_key=True),
        sa.Column("user_id", sa.String(255), primary_key=True),
        sa.Column("kind", sa.String(40), primary_key=True),
        sa.Column("balance", sa.BigInteger, nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint("balance >= 0", name="ck_credit_balances_not_negative"),
    )
    op.create_table(
        "credit_allocations",
        sa.Column("group_id", sa.String(255), primary_key=True),
        sa.Column("user_id", sa.String(255), primary_key=True),
        sa.Column("cause", sa.String(255), primary_key=True),
        sa.Column("allowances", JSONB, nullable=False),
        sa.Column("cycle_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cycle_end", sa.DateTime(timezone=True)),
        sa.Column("applied", sa.Boolean, nullable=False),
        _created_at(),
    )
    op.create_table(
        "credit_entries",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("group_id", sa.String(255), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("delta", sa.BigInteger, nullable=False),
        sa.Column("balance_after", sa.BigInteger, nullable=False),
        sa.Column("cause", sa.String(255), nullable=False),
        _created_at(),
    )
    op.create_index("ix_credit_entries_member", "credit_entries", ["group_id", "user_id", "id"])
    op.create_table(
        "credit_spends",
        sa.Column("group_id", sa.String(255), primary_key=True),
        sa.Column("user_id", sa.String(255), primary_key=True),
        sa.Column("idempotency_key", sa.String(255), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("reference", sa.String(255), nullable=False),
        sa.Column("spent", sa.Boolean),
        sa.Column("balance", sa.BigInteger),
        _created_at(),
    )


def downgrade() -> None:
    for table in ("credit_spends", "credit_entries", "credit_allocations", "credit_balances"):
        op.drop_table(table)
