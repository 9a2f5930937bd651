"""Each tier counts the changes of the seats unpaid checkouts hold on it (the `revision` of
`checkout.tier.seats_held`).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    op.add_column(
        "tiers",
        sa.Column("seats_revision", sa.Integer, nullable=False, server_default=sa.text("0")),
    )


def downgrade() -> None:
    op.drop_column("tiers", "seats_revision")
