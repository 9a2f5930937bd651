"""Each tier's capacity as checkout last announced it (a switch into a full tier is refused).

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"


def upgrade() -> None:
    op.create_table(
        "tiers",
        sa.Column("tier_id", sa.String(255), primary_key=True),
        sa.Column("group_id", sa.String(255), nullable=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Column("capacity", sa.Integer),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )


def downgrade() -> None:
    op.drop_table("tiers")
