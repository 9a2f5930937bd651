"""Membership's entities: the sources of access a member can hold, and what they add up to."""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from tollgate_shared.contracts.checkout import OneTimeSwitch, ProrationBehavior

Source = Literal["subscription", "one_time", "grant"]


def add_months(moment: datetime, months: int) -> datetime:
    """The same day `months` later (the month's last day when it is shorter: 31 Jan + 1 →
    28/29 Feb), at the same time."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, monthrange(year, month)[1]))


@dataclass(frozen=True)
class MembershipKey:
    """One user's membership in one group."""

    user_id: str
    group_id: str


@dataclass(frozen=True)
class SubscriptionRecord:
    """What we last applied of a Stripe subscription: `version` is the Stripe second it describes
    (an event's `created`); a state read from Stripe is known to be from some second between
    `version_from` and `version` (the read's round trip), `version_from` None otherwise.
    `period_start` places snapshots of one second: a period never starts before the last one."""

    id: str
    user_id: str
    group_id: str
    tier_id: str | None
    status: str
    cancel_at_period_end: bool
    period_end: datetime | None
    created: int
    version: int
    last_event_id: str | None = None
    past_due_since: datetime | None = None
    previous_subscription_id: str | None = None
    customer_id: str | None = None
    email: str | None = None
    cancel_requested_at: datetime | None = None
    version_from: int | None = None
    period_start: datetime | None = None
    price_id: str | None = None
    """The price it bills (from its first item), with its amount, currency and interval."""
    unit_amount: int | None = None
    currency: str | None = None
    interval: str | None = None
    pause_behavior: str | None = None
    """Its payment collection is paused (Stripe's `pause_collection.behavior`), if so."""
    pause_resumes_at: datetime | None = None
    paid_through: datetime | None = None
    """The latest period end its paid invoices reached (kept across snapshots)."""

    @property
    def collection_paused(self) -> bool:
        return self.pause_behavior is not None

    @property
    def voids_renewals(self) -> bool:
        """Paused by a member: renewals meanwhile are voided, so access lasts only as long as
        what was paid (`paid_through`)."""
        return self.pause_behavior == "void"

    @property
    def awaited(self) -> bool:
        """Known only from an invoice or a checkout naming it: no snapshot of it applied yet."""
        return self.version == 0

    @property
    def since(self) -> int:
        """The earliest Stripe second the applied data may describe."""
        return self.version if self.version_from is None else self.version_from


@dataclass(frozen=True)
class StripeTime:
    """When Stripe data was true, in Stripe's whole seconds: one second for an event (its
    `created`); for a read from Stripe, some second between `since` and `until`."""

    since: int
    until: int


@dataclass(frozen=True)
class Term:
    """One paid term of a one-time (annual) membership, keyed by its Checkout Session."""

    id: str
    user_id: str
    group_id: str
    tier_id: str | None
    paid_at: datetime
    term_days: int
    payment_intent_id: str | None = None
    voided_at: datetime | None = None
    void_reason: str | None = None
    email: str | None = None
    starts_at: datetime | None = None
    """When it starts if not at payment: the end of the subscription period it follows."""

    @property
    def start(self) -> datetime:
        return self.starts_at or self.paid_at


@dataclass(frozen=True)
class Grant:
    """A complimentary or legacy membership an admin gave, with an expiry."""

    user_id: str
    group_id: str
    tier_id: str | None
    kind: Literal["comp", "legacy"]
    expires_at: datetime
    """When it ends; under the grace rule, the cut-off no access outlasts."""
    reason: str | None = None
    email: str | None = None
    revoked_at: datetime | None = None
    grace_months: int | None = None
    """The legacy grace rule: access for this many months from the first sign-in."""
    first_seen_at: datetime | None = None
    """The member's first sign-in the service saw (the grace rule counts from it)."""

    @property
    def awaits_first_sign_in(self) -> bool:
        return self.grace_months is not None and self.first_seen_at is None

    @property
    def ends_at(self) -> datetime:
        """When access ends: the expiry, or under the grace rule the months from the first
        sign-in, capped at the cut-off (until the first sign-in, the cut-off)."""
        if self.grace_months is None or self.first_seen_at is None:
            return self.expires_at
        return min(add_months(self.first_seen_at, self.grace_months), self.expires_at)


@dataclass
class Sources:
    """Everything that can give one user access to one group."""

    subscriptions: list[SubscriptionRecord] = field(default_factory=list)
    terms: list[Term] = field(default_factory=list)
    grant: Grant | None = None

    @property
    def email(self) -> str | None:
        """An email the sources know for the member."""
        emails = [s.email for s in self.subscriptions] + [t.email for t in self.terms]
        return next((e for e in [*emails, self.grant.email if self.grant else None] if e), None)


@dataclass(frozen=True)
class Access:
    """What one source gives: active while `open_ended`, or before `until`."""

    source: Source
    tier_id: str | None
    status: str
    open_ended: bool
    until: datetime | None
    subscription_id: str | None = None
    period_end: datetime | None = None
    cancel_at_period_end: bool = False
    grace_until: datetime | None = None
    end_reason: str = "expired"
    preference: tuple[int, int, int, int, str] = (0, 0, 0, 0, "")

    def active_at(self, now: datetime) -> bool:
        """Whether this source grants access at `now`."""
        return self.open_ended or (self.until is not None and now < self.until)

    @property
    def expires_at(self) -> datetime | None:
        """When access ends if nothing changes (the next renewal date for open-ended access)."""
        return self.period_end if self.open_ended else self.until


@dataclass(frozen=True)
class Entitlement:
    """A membership at one moment: the preferred source, and how long any source lasts."""

    key: MembershipKey
    access: Access | None
    active: bool
    open_ended: bool
    access_until: datetime | None
    """The latest moment any active source reaches (None when open-ended or inactive)."""
    next_change_at: datetime | None
    """When the answer may change by time alone (the preferred source's end), for the sweeper."""
    email: str | None = None

    @property
    def tier_id(self) -> str | None:
        return self.access.tier_id if self.access else None

    @property
    def status(self) -> str:
        return self.access.status if self.access else "none"


@dataclass(frozen=True)
class Announced:
    """The membership as last announced in events (stored beside the entitlement it came from)."""

    active: bool
    tier_id: str | None
    source: Source | None
    status: str
    subscription_id: str | None
    expires_at: datetime | None

    @classmethod
    def of(cls, entitlement: Entitlement) -> Announced:
        """What `entitlement` announces."""
        access = entitlement.access
        return cls(
            active=entitlement.active,
            tier_id=entitlement.tier_id,
            source=access.source if access else None,
            status=entitlement.status,
            subscription_id=access.subscription_id if access else None,
            expires_at=access.expires_at if access else None,
        )


@dataclass(frozen=True)
class GroupPolicy:
    """How a group's organizers want members' changes billed (checkout's group settings)."""

    proration_behavior: ProrationBehavior
    """How a tier switch bills the rest of the period."""
    one_time_switch: OneTimeSwitch
    """A one-time term bought while a subscription runs: it ends at its period end, or now."""
    allow_pause: bool = False
    """Whether members may pause their subscription's payment collection."""
