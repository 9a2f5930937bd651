"""Legacy grants by the grace rule: N months from the member's first sign-in, capped.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.add_column("grants", sa.Column("grace_months", sa.Integer))
    op.add_column("grants", sa.Column("first_seen_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("grants", "first_seen_at")
    op.drop_column("grants", "grace_months")
