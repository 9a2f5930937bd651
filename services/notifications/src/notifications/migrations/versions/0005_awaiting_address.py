"""Member notifications that wait for their member's address.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "awaiting_address",
        sa.Column("kind", sa.String(40), primary_key=True),
        sa.Column("source_id", sa.String(255), primary_key=True),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("group_id", sa.String(255)),
        sa.Column("context", JSONB, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("ix_awaiting_address_user_id", "awaiting_address", ["user_id"])


def downgrade() -> None:
    op.drop_table("awaiting_address")
