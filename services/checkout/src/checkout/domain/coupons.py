"""Coupons: codes, discounts, and when a code may be used."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from checkout.domain.catalog import Tier
from checkout.domain.errors import Invalid

Duration = Literal["once", "forever", "repeating"]


def normalize_code(code: str) -> str:
    """Codes are trimmed and case-insensitive: ` spring25 ` is `SPRING25`."""
    return code.strip().upper()


@dataclass(frozen=True)
class Coupon:
    id: str
    group_id: str
    code: str
    percent_off: Decimal | None
    amount_off: int | None
    currency: str | None
    duration: Duration
    duration_in_months: int | None
    valid_from: datetime | None
    valid_until: datetime | None
    max_redemptions: int | None
    tier_ids: list[str] = field(default_factory=list)
    active: bool = True
    stripe_coupon_id: str | None = None
    stripe_promotion_code_id: str | None = None
    stripe_code: str | None = None
    name: str | None = None
    """What receipts and Stripe's page call the discount (the code if none)."""
    first_time_transaction: bool = False
    """Only for members who never paid before (Stripe's promotion code restriction)."""
    minimum_amount: int | None = None
    """The price (before discounts) a checkout must reach, in `minimum_amount_currency`."""
    minimum_amount_currency: str | None = None
    promotion_revision: int = 0
    """Which promotion code of the coupon is current: one more each time one is replaced."""
    promotion_terms: dict[str, Any] | None = None
    """The terms the current promotion code was made with (Stripe cannot change them)."""
    retired_stripe_ids: list[str] = field(default_factory=list)
    """Promotion codes and Stripe coupons it had before: redemptions through them count."""
    stripe_coupon_redeem_by: datetime | None = None
    """Stripe coupons made before promotion codes carried the window's end had it as
    `redeem_by`: a promotion code cannot outlive it."""

    @property
    def stripe_name(self) -> str:
        """The Stripe coupon's name (Stripe shows it to customers)."""
        return self.name or self.code

    def started(self, now: datetime) -> bool:
        """Whether the window has opened."""
        return self.valid_from is None or self.valid_from <= now

    def promotion_terms_wanted(self) -> dict[str, Any]:
        """What the promotion code must say, none of which Stripe lets change afterwards: its
        expiry (the window's end), the limit of redemptions and the restrictions."""
        return {
            "expires_at": int(self.valid_until.timestamp()) if self.valid_until else None,
            "max_redemptions": self.max_redemptions,
            "first_time_transaction": self.first_time_transaction,
            "minimum_amount": self.minimum_amount,
            "minimum_amount_currency": self.minimum_amount_currency,
        }

    def promotion_outdated(self, now: datetime) -> bool:
        """Whether the current promotion code must stop: the coupon is inactive, its window
        has not opened (again), or its terms changed."""
        return self.stripe_promotion_code_id is not None and (
            not self.active
            or not self.started(now)
            or self.promotion_terms != self.promotion_terms_wanted()
        )

    @property
    def needs_new_stripe_coupon(self) -> bool:
        """Whether the Stripe coupon's own `redeem_by` ends before the window now does."""
        end, redeem_by = self.valid_until, self.stripe_coupon_redeem_by
        return redeem_by is not None and (end is None or end > redeem_by)

    def edited(self, values: dict[str, Any], *, now: datetime) -> Coupon:
        """The coupon with an organizer's edits (window, limit, name, restrictions, active):
        `Invalid` unless the window ends after it starts and has not ended yet, and a minimum
        amount has its currency."""
        edited = dataclasses.replace(self, **values)
        if "valid_until" in values or "valid_from" in values:
            check_window(edited.valid_from, edited.valid_until, now=now)
        check_minimum(edited.minimum_amount, edited.minimum_amount_currency)
        return edited

    @property
    def qualified_code(self) -> str:
        """The code made unique to its group in letters and digits only (what Stripe takes):
        `WELCOME` of group g2 is `WELCOME` and ten hex digits of a hash of (g2, WELCOME)."""
        digest = hashlib.sha256(f"{self.group_id}\0{self.code}".encode()).hexdigest()
        return re.sub(r"[^A-Z0-9]", "", self.code.upper()) + digest[:10].upper()

    def rejection(
        self, tier: Tier, *, now: datetime, redeemed: int, amount: int, first_time: bool
    ) -> str | None:
        """Why the coupon cannot be used on `tier` now at the caller's price `amount` (before
        discounts), by a caller who has (`first_time`: never) paid before; None if it can."""
        if not self.active:
            return "inactive"
        if self.group_id != tier.group_id or (self.tier_ids and tier.id not in self.tier_ids):
            return "not_applicable"
        if self.valid_from is not None and now < self.valid_from:
            return "not_started"
        if self.valid_until is not None and now >= self.valid_until:
            return "expired"
        if self.max_redemptions is not None and redeemed >= self.max_redemptions:
            return "fully_redeemed"
        if self.amount_off is not None and self.currency != tier.currency:
            return "currency_mismatch"
        if self.first_time_transaction and not first_time:
            return "first_time_only"
        if self.minimum_amount is not None:
            if self.minimum_amount_currency != tier.currency:
                return "currency_mismatch"
            if amount < self.minimum_amount:
                return "below_minimum"
        return None

    def ensure_usable(
        self, tier: Tier, *, now: datetime, redeemed: int, amount: int, first_time: bool
    ) -> None:
        """Raise `Invalid` (code `coupon_<reason>`) unless the coupon applies to `tier` now."""
        reason = self.rejection(
            tier, now=now, redeemed=redeemed, amount=amount, first_time=first_time
        )
        if reason is not None:
            raise Invalid(f"coupon {self.code} cannot be used: {reason}", code=f"coupon_{reason}")

    def discount_on(self, amount: int) -> int:
        """The amount off `amount` (minor units)."""
        if self.percent_off is not None:
            off = (Decimal(amount) * self.percent_off / 100).quantize(Decimal(1))
            return min(amount, int(off))
        return min(amount, self.amount_off or 0)


def check_window(
    valid_from: datetime | None, valid_until: datetime | None, *, now: datetime
) -> None:
    """A window must not be over already, and must end after it starts."""
    if valid_until is not None and valid_until <= now:
        raise Invalid(f"the window ended at {valid_until.isoformat()}", code="window_ended")
    if valid_from is not None and valid_until is not None and valid_until <= valid_from:
        raise Invalid("valid_until must be after valid_from", code="invalid_window")


def check_minimum(amount: int | None, currency: str | None) -> None:
    """A minimum amount is in a currency: both or neither (as Stripe takes them)."""
    if (amount is None) != (currency is None):
        raise Invalid(
            "minimum_amount and minimum_amount_currency go together", code="invalid_minimum"
        )
