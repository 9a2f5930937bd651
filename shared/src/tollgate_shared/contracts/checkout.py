"""Events the checkout service emits on `checkout.<noun>.<verb>`: what members bought
(`CheckoutEvent`) and what organizers set for their groups and sell (`CatalogEvent`)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from tollgate_shared.contracts.base import DomainEvent

ProrationBehavior = Literal["create_prorations", "always_invoice", "none"]
OneTimeSwitch = Literal["period_end", "now"]
OrganizerMail = Literal["sale_notice", "payout"]


class CheckoutEmitted(DomainEvent):
    """Every event checkout emits."""

    group_id: str


class CatalogEvent(CheckoutEmitted):
    """A change of a group's settings or catalog. `revision` grows with each change of the
    same thing: a consumer keeps the highest it has seen (events may come late or twice)."""

    revision: int


class GroupSettingsChanged(CatalogEvent):
    """A group's display name, contact and settings as they are now (the whole of them)."""

    type: Literal["checkout.group.settings_changed"] = "checkout.group.settings_changed"
    name: str
    contact_email: str | None = None
    proration_behavior: ProrationBehavior = "create_prorations"
    """How a member's tier switch bills the rest of the period (membership)."""
    one_time_switch: OneTimeSwitch = "period_end"
    """A one-time term bought while a subscription runs: it ends at its period end, or now
    with a prorated refund (membership)."""
    payout_auto_approve_below: dict[str, int] = Field(default_factory=dict)
    """Per currency (lowercase), payout requests below this many minor units are approved
    without an admin (the ledger); set by admins only."""
    organizer_mail_opt_outs: list[OrganizerMail] = Field(default_factory=list)
    """Organizer mails the group does not want (notifications)."""
    sale_notice_digest: bool = False
    """One daily digest of sales instead of a mail per sale (notifications)."""
    allow_pause: bool = False
    """Whether members may pause their subscription's payment collection (membership)."""


class CatalogEntryChanged(CatalogEvent):
    """A tier or item as it is now: what mails and pages name it."""

    type: Literal["checkout.catalog.entry_changed"] = "checkout.catalog.entry_changed"
    entry_kind: Literal["tier", "item"]
    entry_id: str
    name: str
    active: bool
    amount: int
    """The base price in the currency's minor unit."""
    currency: str
    interval: str | None = None
    """A tier's billing interval (`month`, `year`, `one_time_annual`); None for an item."""
    capacity: int | None = None
    """How many members (a tier) or holders (an item) it takes at once; None: no limit."""


class TierSeatsHeld(CatalogEvent):
    """How many seats of a tier with a capacity unpaid checkouts hold now (`revision` counts
    the tier's hold changes): others may not take them, a tier switch included. A hold lapses
    by time without an event, so the count stands until `held_until` at the latest."""

    type: Literal["checkout.tier.seats_held"] = "checkout.tier.seats_held"
    tier_id: str
    held: int
    """Users other than the tier's members holding a seat through an unpaid checkout."""
    held_until: datetime | None = None
    """When the last of these holds lapses (None when `held` is 0)."""


class CheckoutEvent(CheckoutEmitted):
    session_id: str
    """What the member paid through: the Stripe Checkout Session id (`cs_...`), or for a
    checkout in the app's own card form (Stripe Elements) the object checkout created: the
    PaymentIntent id (`pi_...`) of a purchase, the subscription id (`sub_...`) of a membership."""
    user_id: str


class PurchaseEvent(CheckoutEvent):
    """About a one-off purchase of an item, identified by the app's `reference`."""

    item_id: str
    reference: str
    amount: int
    """In the currency's minor unit, after discounts."""
    currency: str
    email: str | None = None
    payment_intent_id: str | None = None
    """The PaymentIntent paying it, when there is one (always for the app's own card form,
    where it is also `session_id`)."""


class PurchasePaid(PurchaseEvent):
    """Stripe confirmed the payment: the app may confirm the booking."""

    type: Literal["checkout.purchase.paid"] = "checkout.purchase.paid"


class PurchaseFailed(PurchaseEvent):
    """The purchase will not be paid (`reason`: `expired` or `payment_failed`): release it."""

    type: Literal["checkout.purchase.failed"] = "checkout.purchase.failed"
    reason: Literal["expired", "payment_failed"]


class PurchaseClaimed(PurchaseEvent):
    """The buyer's app claimed the paid purchase (once)."""

    type: Literal["checkout.purchase.claimed"] = "checkout.purchase.claimed"


class CouponRedeemed(CheckoutEvent):
    """A completed checkout used one of the group's coupons."""

    type: Literal["checkout.coupon.redeemed"] = "checkout.coupon.redeemed"
    coupon_id: str
    """Checkout's coupon id (not Stripe's)."""
    code: str
    tier_id: str | None = None
    item_id: str | None = None
    amount_discount: int
    currency: str
