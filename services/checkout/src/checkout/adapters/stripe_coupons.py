"""Checkout's coupons at Stripe: a Stripe coupon per coupon and its promotion code, kept in
step with the coupon's edits (`StripeGateway` carries these calls)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import stripe

from checkout.domain.coupons import Coupon
from tollgate_shared.infra.stripe_client import idempotency_key, stripe_errors_translated

if TYPE_CHECKING:
    from stripe._v1_services import V1Services
    from stripe.params import CouponCreateParams


def key_of(action: str, *ids: object) -> stripe.RequestOptions:
    """Request options with the idempotency key of `action` on our ids."""
    return {"idempotency_key": idempotency_key(action, *(str(i) for i in ids))}


class CouponsAtStripe:
    """The coupon calls of checkout's Stripe gateway."""

    _v1: V1Services

    async def create_coupon(
        self, coupon: Coupon, product_ids: list[str]
    ) -> tuple[str, datetime | None]:
        """The coupon's Stripe coupon (its discount, for `product_ids`): its id, and the
        `redeem_by` it has. The window's end is the promotion code's: a Stripe coupon's
        `redeem_by` cannot change, so none is set; but one an interrupted earlier sync made
        may have one. One replacing an earlier Stripe coupon has an id of its own."""
        stripe_id = f"tollgate_{coupon.id}"
        if coupon.stripe_coupon_id is not None:  # a replacement (see `needs_new_stripe_coupon`)
            stripe_id = f"{stripe_id}_{coupon.promotion_revision}"
        params: CouponCreateParams = {
            "id": stripe_id,
            "name": coupon.stripe_name,
            "duration": coupon.duration,
            "metadata": {"tollgate_id": coupon.id, "group_id": coupon.group_id},
            "applies_to": {"products": product_ids},
        }
        if coupon.percent_off is not None:
            # The exact decimal, as Stripe's form encoding takes it (the SDK types a float).
            params["percent_off"] = str(coupon.percent_off)  # type: ignore[typeddict-item]
        else:
            assert coupon.amount_off is not None and coupon.currency is not None
            params["amount_off"] = coupon.amount_off
            params["currency"] = coupon.currency
        if coupon.duration_in_months:
            params["duration_in_months"] = coupon.duration_in_months
        with stripe_errors_translated():
            try:
                created = await self._v1.coupons.create_async(params, key_of("coupon", stripe_id))
            except stripe.InvalidRequestError as exc:
                if exc.code != "resource_already_exists":
                    raise
                created = await self._v1.coupons.retrieve_async(stripe_id)
        redeem_by = created.redeem_by
        return created.id, datetime.fromtimestamp(redeem_by, UTC) if redeem_by else None

    async def rename_coupon(self, stripe_coupon_id: str, name: str) -> None:
        """Change the name Stripe shows for the coupon (the one thing of it that changes)."""
        with stripe_errors_translated():
            await self._v1.coupons.update_async(
                stripe_coupon_id, {"name": name}, key_of("coupon-name", stripe_coupon_id, name)
            )

    async def create_promotion_code(
        self, coupon: Coupon, stripe_coupon_id: str, *, max_redemptions: int | None
    ) -> stripe.PromotionCode:
        """The coupon's current promotion code (its `promotion_revision`): its plain code if
        Stripe takes it, else the group-qualified code (codes are unique among the account's
        active promotion codes). `max_redemptions` is what is left of the coupon's limit."""
        with stripe_errors_translated():
            # One an interrupted earlier sync made, whichever code it got, is kept: never a second.
            earlier = await self._v1.promotion_codes.list_async(
                {"coupon": stripe_coupon_id, "active": True, "limit": 100}
            )
            revision = str(coupon.promotion_revision)
            for found in earlier.data:
                metadata = found.to_dict().get("metadata") or {}
                if metadata.get("tollgate_revision", "0") == revision:
                    return found
            terms = coupon.promotion_terms_wanted()
            params: dict[str, Any] = {
                "promotion": {"type": "coupon", "coupon": stripe_coupon_id},
                "metadata": {"tollgate_id": coupon.id, "tollgate_revision": revision},
            }
            if max_redemptions is not None:
                params["max_redemptions"] = max_redemptions
            if terms["expires_at"] is not None:
                params["expires_at"] = terms["expires_at"]
            restrictions = {
                k: terms[k]
                for k in ("first_time_transaction", "minimum_amount", "minimum_amount_currency")
                if terms[k]
            }
            if restrictions:
                params["restrictions"] = restrictions
            # The first promotion code of a coupon keeps the keys it always had.
            ids = (coupon.id,) if coupon.promotion_revision == 0 else (coupon.id, revision)
            try:
                return await self._v1.promotion_codes.create_async(
                    {**params, "code": coupon.code},  # type: ignore[typeddict-item]
                    key_of("promotion-code", *ids),
                )
            except stripe.InvalidRequestError as exc:
                if exc.param not in (None, "code"):  # refused for another reason than the code
                    raise
            return await self._v1.promotion_codes.create_async(
                {**params, "code": coupon.qualified_code},  # type: ignore[typeddict-item]
                key_of("promotion-code-qualified", *ids),
            )

    async def deactivate_promotion_code(self, promotion_code_id: str) -> None:
        """Stop a promotion code at once (Stripe keeps it, inactive)."""
        with stripe_errors_translated():
            await self._v1.promotion_codes.update_async(
                promotion_code_id,
                {"active": False},
                key_of("promotion-code-deactivate", promotion_code_id),
            )
