"""Groups' settings and catalog entries as checkout announces them; sale notices held for a
group's daily digest.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0007"
down_revision = "0006"

STATUSES = "'pending', 'sending', 'sent', 'failed', 'superseded'"


def upgrade() -> None:
    op.create_table(
        "group_settings",
        sa.Column("group_id", sa.String(255), primary_key=True),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("contact_email", sa.String(320)),
        sa.Column("organizer_mail_opt_outs", ARRAY(sa.String(40)), nullable=False),
        sa.Column(
            "sale_notice_digest", sa.Boolean, nullable=False, server_default=sa.text("false")
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_table(
        "catalog_entries",
        sa.Column("entry_kind", sa.String(8), primary_key=True),
        sa.Column("entry_id", sa.String(255), primary_key=True),
        sa.Column("group_id", sa.String(255), nullable=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("interval", sa.String(32)),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.drop_constraint("ck_notifications_status", "notifications", type_="check")
    op.create_check_constraint(
        "ck_notifications_status",
        "notifications",
        f"status IN ({STATUSES}, 'digest', 'digested')",
    )
    op.create_index(
        "ix_notifications_digest",
        "notifications",
        ["created_at"],
        postgresql_where=sa.text("status = 'digest'"),
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_digest", "notifications")
    op.execute("UPDATE notifications SET status = 'pending' WHERE status = 'digest'")
    op.execute("UPDATE notifications SET status = 'superseded' WHERE status = 'digested'")
    op.drop_constraint("ck_notifications_status", "notifications", type_="check")
    op.create_check_constraint(
        "ck_notifications_status", "notifications", f"status IN ({STATUSES})"
    )
    op.drop_table("catalog_entries")
    op.drop_table("group_settings")
