"""Request and response bodies of checkout's catalog API: tiers, items, coupons and group
settings (the common field types are `schemas`')."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal
from typing import Annotated, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from checkout.domain.catalog import Item, Tier, TierInterval
from checkout.domain.coupons import Coupon, Duration
from checkout.domain.settings import GroupSettings
from checkout.entrypoints.schemas import (
    Amount,
    Body,
    CreditAllowances,
    Currency,
    Name,
    Patch,
)
from tollgate_shared.contracts.checkout import OneTimeSwitch, OrganizerMail, ProrationBehavior
from tollgate_shared.web.validation import EmailAddress, Instant, Int32, Int64, SingleLine, Text
from tollgate_shared.web.validation import ShortId as Id

TrialDays = Annotated[
    int,
    Field(
        ge=0,
        le=730,
        description="free days a member's first subscription of the group starts with "
        "(Checkout only; 0: none; Stripe allows up to 730)",
    ),
]


class TierIn(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Supporter",
                    "amount": 2000,
                    "currency": "nzd",
                    "interval": "month",
                    "capacity": 50,
                    "credit_allowances": {"booking": 10},
                    "trial_days": 14,
                }
            ]
        }
    )

    name: Name
    description: Text | None = None
    amount: Amount
    currency: Currency
    interval: TierInterval
    capacity: Annotated[Int32, Field(ge=1)] | None = None
    active: bool = True
    credit_allowances: CreditAllowances = Field(default_factory=dict)
    segment_prices: dict[Id, Amount] = Field(
        default_factory=dict, description="lower prices for verified JWT `segment` claims"
    )
    trial_days: TrialDays = 0


class TierPatch(Patch):
    model_config = ConfigDict(json_schema_extra={"examples": [{"amount": 2500, "trial_days": 7}]})

    nullable: ClassVar[frozenset[str]] = frozenset({"description", "capacity"})
    name: Name | None = None
    description: Text | None = None
    amount: Amount | None = None
    currency: Currency | None = None
    interval: TierInterval | None = None
    capacity: Annotated[Int32, Field(ge=1)] | None = None
    active: bool | None = None
    credit_allowances: CreditAllowances | None = None
    segment_prices: dict[Id, Amount] | None = None
    trial_days: TrialDays | None = None


Capacity = Annotated[Int32, Field(ge=1)]
Slots = Annotated[
    bool,
    Field(
        description="each booking reference is one slot, sold to one buyer (another buyer of a "
        "held or paid reference gets 409 `slot_taken`)"
    ),
]
ItemCapacity = Annotated[
    Capacity,
    Field(description="how many purchases may hold the item at once (409 `item_full` beyond)"),
]


class ItemIn(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Bouldering session, Saturday 10:00",
                    "amount": 1500,
                    "currency": "nzd",
                    "capacity": 12,
                    "slots": True,
                }
            ]
        }
    )

    name: Name
    description: Text | None = None
    amount: Amount
    currency: Currency
    active: bool = True
    capacity: ItemCapacity | None = None
    slots: Slots = False


class ItemPatch(Patch):
    model_config = ConfigDict(json_schema_extra={"examples": [{"amount": 1800, "capacity": 10}]})

    nullable: ClassVar[frozenset[str]] = frozenset({"description", "capacity"})
    name: Name | None = None
    description: Text | None = None
    amount: Amount | None = None
    currency: Currency | None = None
    active: bool | None = None
    capacity: ItemCapacity | None = None
    slots: Slots | None = None


class CatalogOut(BaseModel):
    id: str
    group_id: str
    name: str
    description: str | None
    amount: int
    currency: str
    active: bool
    stripe_product_id: str | None
    version: int
    synced: bool = Field(description="whether Stripe sells the current version")

    @classmethod
    def of(cls, entry: Tier | Item) -> Self:
        """The API view of a tier or item."""
        values = dataclasses.asdict(entry)
        return cls(**values, synced=entry.synced_version == entry.version)


class TierOut(CatalogOut):
    interval: TierInterval
    capacity: int | None
    credit_allowances: dict[str, int]
    segment_prices: dict[str, int]
    trial_days: int


class ItemOut(CatalogOut):
    capacity: int | None
    slots: bool


# Stripe shows a coupon's name to customers and takes at most 40 characters.
CouponName = Annotated[SingleLine, StringConstraints(min_length=1, max_length=40)]
MaxRedemptions = Annotated[Int32, Field(ge=1)]
FirstTimeOnly = Annotated[
    bool, Field(description="only for members who never paid before (Stripe's restriction)")
]
MinimumAmount = Annotated[
    Amount,
    Field(description="the price before discounts a checkout must reach, with its currency"),
]


class CouponIn(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "WELCOME10",
                    "name": "Welcome",
                    "percent_off": 10,
                    "duration": "once",
                    "valid_until": "2035-01-01T00:00:00Z",
                    "max_redemptions": 100,
                    "first_time_transaction": True,
                }
            ]
        }
    )

    code: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_-]{3,64}$")]
    name: CouponName | None = None
    percent_off: Annotated[Decimal, Field(gt=0, le=100, decimal_places=2)] | None = None
    amount_off: Amount | None = None
    currency: Currency | None = None
    duration: Duration = "once"
    duration_in_months: Annotated[int, Field(ge=1, le=36)] | None = None
    valid_from: Instant | None = None
    valid_until: Instant | None = None
    max_redemptions: MaxRedemptions | None = None
    tier_ids: list[Id] = Field(default_factory=list, max_length=100)
    first_time_transaction: FirstTimeOnly = False
    minimum_amount: MinimumAmount | None = None
    minimum_amount_currency: Currency | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.percent_off is None) == (self.amount_off is None):
            raise ValueError("give exactly one of percent_off or amount_off")
        if self.amount_off is not None and self.currency is None:
            raise ValueError("amount_off needs a currency")
        if (self.duration == "repeating") != (self.duration_in_months is not None):
            raise ValueError("duration_in_months goes with (and only with) duration=repeating")
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        if (self.minimum_amount is None) != (self.minimum_amount_currency is None):
            raise ValueError("minimum_amount and minimum_amount_currency go together")
        return self


class CouponPatch(Patch):
    """What an organizer changes of a coupon; `null` clears a window end, limit or minimum."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Spring sale",
                    "valid_until": "2027-10-01T00:00:00Z",
                    "max_redemptions": 50,
                },
                {"active": False},
            ]
        }
    )
    nullable: ClassVar[frozenset[str]] = frozenset(
        {
            "name",
            "valid_from",
            "valid_until",
            "max_redemptions",
            "minimum_amount",
            "minimum_amount_currency",
        }
    )
    name: CouponName | None = None
    valid_from: Instant | None = None
    valid_until: Instant | None = None
    max_redemptions: MaxRedemptions | None = None
    active: bool | None = Field(
        None, description="false stops the coupon at once (here and on Stripe's page)"
    )
    first_time_transaction: FirstTimeOnly | None = None
    minimum_amount: MinimumAmount | None = None
    minimum_amount_currency: Currency | None = None


class CouponOut(BaseModel):
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
    tier_ids: list[str]
    active: bool
    name: str | None
    first_time_transaction: bool
    minimum_amount: int | None
    minimum_amount_currency: str | None
    synced: bool
    stripe_code: str | None = Field(
        description="what customers type on Stripe's payment page: `code`, or a group-qualified "
        "code when Stripe does not take `code` (the account has it already, or it holds `-`/`_`); "
        "this API takes `code` either way"
    )

    @classmethod
    def of(cls, coupon: Coupon) -> Self:
        """The API view of a coupon."""
        values = dataclasses.asdict(coupon)
        return cls(**values, synced=coupon.stripe_promotion_code_id is not None)


PayoutThresholds = Annotated[
    dict[Currency, Annotated[Int64, Field(ge=0)]],
    Field(
        max_length=50,
        description="per currency (ISO code), payout requests below this many minor units are "
        'approved without an admin, e.g. {"nzd": 50000}; admins only',
    ),
]


class GroupSettingsIn(Patch):
    """The settings to set; fields left out keep their value (`contact_email: null` clears it)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Wellington Climbers",
                    "contact_email": "committee@climbers.example.org",
                    "organizer_mail_opt_outs": ["payout"],
                    "sale_notice_digest": True,
                    "allow_pause": True,
                }
            ]
        }
    )
    nullable: ClassVar[frozenset[str]] = frozenset({"contact_email"})
    name: Name | None = None
    contact_email: EmailAddress | None = None
    proration_behavior: ProrationBehavior | None = Field(
        None, description="how a member's tier switch bills the rest of the period"
    )
    one_time_switch: OneTimeSwitch | None = Field(
        None,
        description="a one-time term bought during a subscription: the subscription ends at its "
        "period end, or now with a prorated refund",
    )
    payout_auto_approve_below: PayoutThresholds | None = None
    organizer_mail_opt_outs: Annotated[list[OrganizerMail], Field(max_length=10)] | None = Field(
        None, description="organizer mails the group does not want"
    )
    sale_notice_digest: bool | None = Field(
        None, description="one daily digest of sales instead of a mail per sale"
    )
    allow_pause: bool | None = Field(
        None, description="whether members may pause their subscription's payment collection"
    )


class GroupSettingsOut(BaseModel):
    group_id: str
    name: str
    contact_email: str | None
    proration_behavior: ProrationBehavior
    one_time_switch: OneTimeSwitch
    payout_auto_approve_below: dict[str, int]
    organizer_mail_opt_outs: list[OrganizerMail]
    sale_notice_digest: bool
    allow_pause: bool
    revision: int = Field(description="0 until the settings are first set; one more per change")

    @classmethod
    def of(cls, settings: GroupSettings) -> Self:
        """The API view of a group's settings."""
        return cls(**dataclasses.asdict(settings))


class RedemptionOut(BaseModel):
    stripe_session_id: str
    coupon_id: str
    user_id: str
    group_id: str
    tier_id: str | None
    item_id: str | None
    amount_discount: int
    currency: str
    redeemed_at: datetime


class CouponValidation(BaseModel):
    code: str
    tier_id: str
    valid: bool
    reason: str | None = None
    percent_off: float | None = None
    amount_off: int | None = None
    currency: str | None = None
    amount: int | None = None
    amount_discount: int | None = None
