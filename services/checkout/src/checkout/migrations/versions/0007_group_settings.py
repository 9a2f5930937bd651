"""Group settings: a group's display name, contact and policies, with a revision per change.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.create_table(
        "group_settings",
        sa.Column("group_id", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("contact_email", sa.String(254), nullable=True),
        sa.Column("proration_behavior", sa.String(30), nullable=False),
        sa.Column("one_time_switch", sa.String(20), nullable=False),
        sa.Column("payout_auto_approve_below", JSONB, nullable=False),
        sa.Column("organizer_mail_opt_outs", JSONB, nullable=False),
        sa.Column("sale_notice_digest", sa.Boolean, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )


def downgrade() -> None:
    op.drop_table("group_settings")
