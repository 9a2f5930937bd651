"""Coupon codes are unique per group, not across groups; the code Stripe's promotion code carries.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.drop_constraint("uq_coupons_code", "coupons", type_="unique")
    op.create_unique_constraint("uq_coupons_group_id_code", "coupons", ["group_id", "code"])
    op.add_column("coupons", sa.Column("stripe_code", sa.String(100), nullable=True))
    # Until now every promotion code carried the coupon's own code.
    op.execute("UPDATE coupons SET stripe_code = code WHERE stripe_promotion_code_id IS NOT NULL")


def downgrade() -> None:
    # Fails while two groups share a code: rename or drop one of them first.
    op.drop_column("coupons", "stripe_code")
    op.drop_constraint("uq_coupons_group_id_code", "coupons", type_="unique")
    op.create_unique_constraint("uq_coupons_code", "coupons", ["code"])
