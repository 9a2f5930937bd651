"""Coupons are edited and deactivated, with promotion-code restrictions: a display name, first-
time-only and a minimum amount; the current promotion code's revision and terms, the Stripe ids
it replaced, and the redeem_by of Stripe coupons made before (their window's end).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0009"
down_revision = "0008"

# The terms the promotion codes made before this revision carry: the window's end and the limit.
LEGACY_TERMS = """
UPDATE coupons SET promotion_terms = jsonb_build_object(
    'expires_at', floor(extract(epoch FROM valid_until))::bigint,
    'max_redemptions', max_redemptions,
    'first_time_transaction', false,
    'minimum_amount', NULL,
    'minimum_amount_currency', NULL
)
WHERE stripe_promotion_code_id IS NOT NULL
"""


def upgrade() -> None:
    op.add_column("coupons", sa.Column("name", sa.String(40), nullable=True))
    op.add_column(
        "coupons",
        sa.Column(
            "first_time_transaction", sa.Boolean, nullable=False, server_default=sa.text("false")
        ),
    )
    op.add_column("coupons", sa.Column("minimum_amount", sa.BigInteger, nullable=True))
    op.add_column("coupons", sa.Column("minimum_amount_currency", sa.String(3), nullable=True))
    op.add_column(
        "coupons",
        sa.Column("promotion_revision", sa.Integer, nullable=False, server_default=sa.text("0")),
    )
    op.add_column("coupons", sa.Column("promotion_terms", JSONB, nullable=True))
    op.add_column(
        "coupons",
        sa.Column(
            "retired_stripe_ids", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")
        ),
    )
    op.add_column(
        "coupons", sa.Column("stripe_coupon_redeem_by", sa.DateTime(timezone=True), nullable=True)
    )
    op.execute(LEGACY_TERMS)
    op.execute(
        "UPDATE coupons SET stripe_coupon_redeem_by = valid_until "
        "WHERE stripe_coupon_id IS NOT NULL"
    )


def downgrade() -> None:
    for column in (
        "stripe_coupon_redeem_by",
        "retired_stripe_ids",
        "promotion_terms",
        "promotion_revision",
        "minimum_amount_currency",
        "minimum_amount",
        "first_time_transaction",
        "name",
    ):
        op.drop_column("coupons", column)
