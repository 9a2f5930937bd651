"""Each group's settings membership applies, as checkout last announced them.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    op.create_table(
        "group_settings",
        sa.Column("group_id", sa.String(255), primary_key=True),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Column("proration_behavior", sa.String(32), nullable=False),
        sa.Column("one_time_switch", sa.String(16), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )


def downgrade() -> None:
    op.drop_table("group_settings")
