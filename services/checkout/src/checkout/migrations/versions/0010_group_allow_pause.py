"""Groups may allow their members to pause a subscription's payment collection (membership
applies it); existing groups do not.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    op.add_column(
        "group_settings",
        sa.Column("allow_pause", sa.Boolean, nullable=False, server_default=sa.text("false")),
    )


def downgrade() -> None:
    op.drop_column("group_settings", "allow_pause")
