"""Coupons: codes, discounts, and when a code may be used."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

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

    @property
    def qualified_code(self) -> str:
        """The code made unique to its group in letters and digits only (what Stripe takes):
        `WELCOME` of group g2 is `WELCOME` and ten hex digits of a hash of (g2, WELCOME)."""
        digest = hashlib.sha256(f"{self.group_id}\0{self.code}".encode()).hexdigest()
        return re.sub(r"[^A-Z0-9]", "", self.code.upper()) + digest[:10].upper()

    def rejection(self, tier: Tier, *, now: datetime, redeemed: int) -> str | None:
        """Why the coupon cannot be used on `tier` now, or None if it can."""
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
        return None

    def ensure_usable(self, tier: Tier, *, now: datetime, redeemed: int) -> None:
        """Raise `Invalid` (code `coupon_<reason>`) unless the coupon applies to `tier` now."""
        reason = self.rejection(tier, now=now, redeemed=redeemed)
        if reason is not None:
            raise Invalid(f"coupon {self.code} cannot be used: {reason}", code=f"coupon_{reason}")

    def discount_on(self, amount: int) -> int:
        """The amount off `amount` (minor units)."""
        if self.percent_off is not None:
            off = (Decimal(amount) * self.percent_off / 100).quantize(Decimal(1))
            return min(amount, int(off))
        return min(amount, self.amount_off or 0)
