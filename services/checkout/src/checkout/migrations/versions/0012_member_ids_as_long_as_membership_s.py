"""Members' user, group, tier and subscription ids as long as membership's (255 characters):
a membership event with a longer id than checkout kept (100, a tier's 40) could not be stored
and was retried until it was parked.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"

COLUMNS = {"user_id": 100, "group_id": 100, "tier_id": 40, "subscription_id": 100}
"""Each column's length before."""


def upgrade() -> None:
    for column, length in COLUMNS.items():
        op.alter_column("members", column, type_=sa.String(255), existing_type=sa.String(length))


def downgrade() -> None:
    for column, length in COLUMNS.items():
        op.alter_column("members", column, type_=sa.String(length), existing_type=sa.String(255))
