"""Request and response bodies of checkout's HTTP API."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from checkout.adapters.payments import InvoicePage, MemberInvoice
from checkout.domain.catalog import Item, Tier, TierInterval
from checkout.domain.checkout import CheckoutRequest
from checkout.domain.coupons import Coupon, Duration
from checkout.domain.settings import GroupSettings
from tollgate_shared.contracts.checkout import OneTimeSwitch, OrganizerMail, ProrationBehavior
from tollgate_shared.web.validation import EmailAddress, Instant, Int32, Int64, SingleLine, Text
from tollgate_shared.web.validation import ShortId as Id

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$", to_lower=True)]
Amount = Annotated[int, Field(ge=1, le=99_999_999, description="minor units, e.g. cents")]
# Names may end up in mail headers: one line, no CR/LF or other control characters.
Name = Annotated[SingleLine, StringConstraints(min_length=1, max_length=200)]
Reference = Annotated[Id, StringConstraints(max_length=200)]
Url = Annotated[Text, StringConstraints(max_length=2000)]
PromotionCode = Annotated[Text, StringConstraints(max_length=64)]
# Bounded so a tier's allowances fit one Stripe metadata value (`kind=amount,...`, ≤ 500 chars).
CreditKind = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{1,40}$")]
CreditAllowances = Annotated[
    dict[CreditKind, Annotated[int, Field(ge=0, le=1_000_000)]],
    Field(max_length=10, description='credits per billing cycle by kind, e.g. {"booking": 10}'),
]


class Body(BaseModel):
    """Request bodies reject unknown fields: a client never sends a price or an amount."""

    model_config = ConfigDict(extra="forbid")


class Patch(Body):
    """Partial updates: omitted fields stay; `null` is accepted only where a field may be empty."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_null_for_required(self) -> Self:
        for name in self.model_fields_set - self.nullable:
            if getattr(self, name) is None:
                raise ValueError(f"{name} may not be null")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields the caller sent."""
        return self.model_dump(include=self.model_fields_set)


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
    name: Name
    description: Text | None = None
    amount: Amount
    currency: Currency
    active: bool = True
    capacity: ItemCapacity | None = None
    slots: Slots = False


class ItemPatch(Patch):
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


class GroupSettingsOut(BaseModel):
    group_id: str
    name: str
    contact_email: str | None
    proration_behavior: ProrationBehavior
    one_time_switch: OneTimeSwitch
    payout_auto_approve_below: dict[str, int]
    organizer_mail_opt_outs: list[OrganizerMail]
    sale_notice_digest: bool
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


class CheckoutIn(Body):
    purpose: Literal["membership", "purchase"] = "membership"
    tier_id: Id | None = None
    item_id: Id | None = None
    reference: Reference | None = None
    promotion_code: PromotionCode | None = None
    success_url: Url | None = None
    cancel_url: Url | None = None
    group_id: Id | None = None
    """The group the app sells in: a tier or item of another group is refused (403)."""

    @model_validator(mode="after")
    def _target(self) -> Self:
        if self.purpose == "membership" and (not self.tier_id or self.item_id or self.reference):
            raise ValueError("a membership checkout takes a tier_id (and no item_id/reference)")
        if self.purpose == "purchase" and (not self.item_id or not self.reference or self.tier_id):
            raise ValueError("a purchase takes an item_id and a reference (and no tier_id)")
        return self

    def to_request(self) -> CheckoutRequest:
        """The domain command."""
        return CheckoutRequest(**self.model_dump())


class CheckoutOut(BaseModel):
    session_id: str
    url: str
    expires_at: datetime


class ClaimIn(Body):
    reference: Reference | None = None


class ClaimOut(BaseModel):
    session_id: str
    reference: str | None
    item_id: str | None
    amount: int | None
    currency: str | None
    claimed: bool


class SubscriptionIn(Body):
    tier_id: Id
    promotion_code: PromotionCode | None = None
    group_id: Id | None = None
    """The group the app sells in: a tier of another group is refused (403)."""

    def to_request(self) -> CheckoutRequest:
        """The domain command: a subscription for the app's own card form."""
        return CheckoutRequest(purpose="membership", kind="subscription", **self.model_dump())


# Stripe.js confirms with the client secret and runs 3-D Secure itself (`requires_action`);
# the outcome reaches checkout through webhooks: nothing is granted on this answer.
class SubscriptionOut(BaseModel):
    subscription_id: str
    client_secret: str | None = Field(
        description="the first invoice's confirmation secret, for Stripe.js `confirmPayment`; "
        "null when nothing is due (a coupon took the whole first invoice)"
    )
    status: str = Field(
        description="Stripe's: `incomplete` until the first invoice is paid; `active` when "
        "nothing was due; later answers to the same key give the status then"
    )


class PaymentIntentIn(Body):
    item_id: Id
    reference: Reference
    group_id: Id | None = None
    """The group the app sells in: an item of another group is refused (403)."""

    def to_request(self) -> CheckoutRequest:
        """The domain command: a PaymentIntent for the app's own card form."""
        return CheckoutRequest(purpose="purchase", kind="payment_intent", **self.model_dump())


class PaymentIntentOut(BaseModel):
    payment_intent_id: str
    client_secret: str
    amount: int
    currency: str
    status: str = Field(
        description="Stripe's: `requires_payment_method` when created; later answers to the "
        "same key give the status then (`requires_action` while 3-D Secure waits, `succeeded`)"
    )
    next_action: str | None = Field(
        description="the type of the intent's pending `next_action` (`use_stripe_sdk` or "
        "`redirect_to_url` for 3-D Secure), which Stripe.js handles with the client secret"
    )


class PortalIn(Body):
    return_url: Url | None = None


class PortalOut(BaseModel):
    url: str


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


def _at(timestamp: int | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC)


class InvoiceOut(BaseModel):
    id: str
    number: str | None = Field(description="null while the invoice is a draft")
    status: str | None = Field(description="Stripe's: `draft`, `open`, `paid`, `void`...")
    amount_due: int
    amount_paid: int
    currency: str | None
    created: datetime | None
    paid_at: datetime | None
    description: str | None = Field(
        description="the invoice's description, else what its lines bill"
    )
    hosted_invoice_url: str | None = Field(description="Stripe's page of the invoice")
    pdf_url: str | None = Field(description="Stripe's PDF of the invoice (null for a draft)")

    @classmethod
    def of(cls, invoice: MemberInvoice) -> InvoiceOut:
        """The member's view of a Stripe invoice."""
        return cls(
            id=invoice.id,
            number=invoice.number,
            status=invoice.status,
            amount_due=invoice.amount_due,
            amount_paid=invoice.amount_paid,
            currency=invoice.currency,
            created=_at(invoice.created),
            paid_at=_at(invoice.status_transitions.paid_at),
            description=invoice.summary,
            hosted_invoice_url=invoice.hosted_invoice_url,
            pdf_url=invoice.invoice_pdf,
        )


class InvoicesOut(BaseModel):
    items: list[InvoiceOut]
    has_more: bool
    next_cursor: str | None = Field(description="pass as `starting_after` for the next page")

    @classmethod
    def of(cls, page: InvoicePage) -> InvoicesOut:
        """A page of the member's invoices, newest first."""
        return cls(
            items=[InvoiceOut.of(invoice) for invoice in page.invoices],
            has_more=page.has_more,
            next_cursor=page.next_cursor,
        )
