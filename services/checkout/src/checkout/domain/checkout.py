"""Checkouts: what a request asks for, idempotency, seat holds, lifecycle, metadata.

A checkout is a Stripe Checkout Session (`session`), or for the app's own card form (Stripe
Elements) a subscription (`subscription`) or a PaymentIntent (`payment_intent`) checkout
creates and the browser pays with its client secret.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit

from checkout.domain.catalog import Item, Tier
from checkout.domain.errors import Conflict, Invalid, NotAllowed
from tollgate_shared.terms import back_to_back_end

Purpose = Literal["membership", "purchase"]
Kind = Literal["session", "subscription", "payment_intent"]
Status = Literal["pending", "open", "processing", "paid", "expired", "failed"]
# Sessions only move forward: a late or duplicated Stripe event never moves one back.
_STAGE: dict[str, int] = {
    "pending": 0,
    "open": 1,
    "processing": 2,
    "paid": 3,
    "expired": 3,
    "failed": 3,
}
INCOMPLETE_WINDOW = timedelta(hours=23)
"""How long Stripe leaves a `default_incomplete` subscription payable before it expires."""
NEVER = datetime(9999, 1, 1, tzinfo=UTC)
"""The expiry of a PaymentIntent: it stays payable until it is paid or canceled."""
# A subscription's Stripe status → its checkout's: paid once it was paid, ended unpaid, or
# neither yet (`incomplete`). An end after payment is membership's: `can_move` ignores it.
SUBSCRIPTION_OUTCOME: dict[str, Status] = {
    "active": "paid",
    "trialing": "paid",
    "past_due": "paid",
    "unpaid": "paid",
    "paused": "paid",
    "incomplete_expired": "expired",
    "canceled": "expired",
}


@dataclass(frozen=True)
class CheckoutRequest:
    """What a member asked to buy; never a price."""

    purpose: Purpose
    tier_id: str | None = None
    item_id: str | None = None
    reference: str | None = None
    promotion_code: str | None = None
    success_url: str | None = None
    cancel_url: str | None = None
    kind: Kind = "session"
    group_id: str | None = None
    """The group the caller sells in, if it says: what it buys must be of that group."""

    def fingerprint(self) -> str:
        """A digest of the request, to tell a retry from a different request."""
        fields = asdict(self)
        if self.kind == "session":  # as before kinds existed: stored digests stay valid
            del fields["kind"]
        if self.group_id is None:  # as before the group could be named
            del fields["group_id"]
        canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def ensure_of_group(self, group_id: str) -> None:
        """Refuse a tier or item of another group than the one the caller named."""
        if self.group_id is not None and self.group_id != group_id:
            raise NotAllowed(
                f"{self.tier_id or self.item_id} is not sold by group {self.group_id}",
                code="foreign_tier",
            )

    def payable_until(self, now: datetime, session_ttl: timedelta, *, leased: bool) -> datetime:
        """When what this request creates stops holding what it sells, as far as we know
        before Stripe says: a session's own `expires_at`, a subscription's `created` + 23
        hours. A PaymentIntent stays payable until paid or canceled; with `leased` (an item
        buyers compete for) it holds the item only as long as a session would, and whoever
        takes the item after that cancels the intent first."""
        if self.kind == "payment_intent":
            return now + session_ttl if leased else NEVER
        return now + (INCOMPLETE_WINDOW if self.kind == "subscription" else session_ttl)

    def idempotency_key(self, header: str | None) -> str:
        """The caller's `Idempotency-Key`, else one derived from the request (a double click)."""
        return f"key:{header}" if header else f"auto:{self.fingerprint()}"


def is_derived_key(key: str) -> bool:
    """Whether the key was derived from the request rather than sent by the caller."""
    return key.startswith("auto:")


@dataclass(frozen=True)
class CheckoutRecord:
    """Our record of one checkout: idempotency, seat hold, claim."""

    id: str
    user_id: str
    group_id: str
    purpose: Purpose
    kind: Kind
    tier_id: str | None
    item_id: str | None
    reference: str | None
    idempotency_key: str | None
    request_hash: str
    price_id: str
    amount: int
    currency: str
    coupon_id: str | None
    stripe_id: str | None
    """The Checkout Session (`cs_...`), subscription (`sub_...`) or PaymentIntent (`pi_...`)."""
    url: str | None
    email: str | None
    """The buyer's email from their token (a PaymentIntent collects none)."""
    status: Status
    expires_at: datetime
    released_at: datetime | None
    paid_at: datetime | None
    claimed_at: datetime | None
    created_at: datetime

    def is_live(self, now: datetime) -> bool:
        """Being created, or open and not yet past its expiry."""
        return self.status == "pending" or (self.status == "open" and self.expires_at > now)

    def answers_retry(self, now: datetime) -> bool:
        """Whether a request with the same key gets this checkout back.

        A caller's own key always does (same key, same response); a derived key only while the
        checkout can still be paid, so a member can buy again after it expired or completed.
        """
        return not is_derived_key(self.idempotency_key or "") or self.is_live(now)

    def response(self) -> dict[str, object]:
        """The body `POST /checkout/sessions` answers with (a Checkout Session's)."""
        return {
            "session_id": self.stripe_id,
            "url": self.url,
            "expires_at": self.expires_at.isoformat(),
        }

    def ensure_claimable_by(self, user_id: str, reference: str | None) -> None:
        """Raise unless `user_id` may claim this purchase."""
        if self.user_id != user_id:
            raise NotAllowed("this purchase belongs to another user")
        if reference is not None and reference != self.reference:
            raise Invalid("the reference does not match this purchase", code="reference_mismatch")
        if self.claimed_at is not None:
            raise Conflict("this purchase was already claimed", code="already_claimed")


def can_move(current: Status, new: Status) -> bool:
    """Whether a checkout in `current` may move to `new`."""
    return _STAGE[new] > _STAGE[current]


@dataclass(frozen=True)
class Member:
    """A membership as the membership service last reported it (for seat counting)."""

    user_id: str
    group_id: str
    tier_id: str | None
    active: bool
    subscription_id: str | None


TRIAL_END_NOTICE = timedelta(hours=48)
"""Stripe asks a Checkout Session's `trial_end` to lie at least this far ahead (the card form's
subscriptions follow the same rule, so both ways of paying bill the same member alike)."""


def paid_through(paid: list[datetime], term_days: int) -> datetime | None:
    """When back-to-back one-time terms paid at `paid` (oldest first) end: each runs
    `term_days` from its payment or the previous end (`terms.back_to_back_end`)."""
    return back_to_back_end((at, term_days) for at in paid)


def billing_starts(
    tier: Tier, member: Member | None, term_end: datetime | None, now: datetime
) -> datetime | None:
    """When a subscription bought by a member of a paid one-time term starts billing: when the
    term ends (it trials until then), if that is far enough ahead for Stripe; else at once."""
    if tier.mode != "subscription" or member is None or not member.active:
        return None
    if member.subscription_id is not None or term_end is None:
        return None
    return term_end if term_end >= now + TRIAL_END_NOTICE else None


def trial_for(tier: Tier, member: Member | None) -> int:
    """The tier's trial for a member's first subscription of the group: one trial per member
    and group, so anyone the membership service ever reported in the group (active or not, a
    trial included) starts paying at once."""
    return tier.trial_days if member is None and tier.mode == "subscription" else 0


def admit(tier: Tier, member: Member | None, seats_taken: int) -> None:
    """Raise unless the caller may start a checkout for `tier`.

    `seats_taken` counts other users' memberships and live seat holds on the tier. A member of
    the tier renewing a one-time annual membership keeps their seat; a subscriber already has one.
    """
    if member is not None and member.active and member.tier_id == tier.id:
        if tier.interval == "one_time_annual":
            return
        raise Conflict(f"already a member of tier {tier.id}", code="already_member")
    if tier.capacity is not None and seats_taken >= tier.capacity:
        raise Conflict(f"tier {tier.id} is full", code="tier_full")


def admit_purchase(item: Item, *, slot_taken: bool, held: int) -> None:
    """Raise unless the caller may hold a purchase of `item`: its reference is not another
    buyer's slot, and fewer than `capacity` other purchases hold the item (`held` leaves out
    the caller's own for the same reference, which the new checkout replaces)."""
    if item.slots and slot_taken:
        raise Conflict(f"this reference of item {item.id} is taken", code="slot_taken")
    if item.capacity is not None and held >= item.capacity:
        raise Conflict(f"item {item.id} is full", code="item_full")


def superseded(earlier: list[CheckoutRecord]) -> list[CheckoutRecord]:
    """The caller's earlier open checkouts for the same tier or purchase, to end first.

    Raises if one of them is paid or being paid (no double billing), or still being created.
    """
    for record in earlier:
        if record.status in ("processing", "paid"):
            raise Conflict("this is already paid or being paid", code="already_paid")
        if record.status == "pending":
            raise Conflict("another checkout for this is being created", code="request_in_progress")
    return earlier


def switch_from(tier: Tier, member: Member | None) -> str | None:
    """The subscription a member switching tiers in the group leaves (membership cancels it)."""
    if member is None or not member.active or member.tier_id == tier.id:
        return None
    return member.subscription_id


def check_redirect(url: str, allowed_origins: frozenset[str]) -> str:
    """Return `url` if it is an absolute http(s) URL on an allowed origin (no open redirect)."""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    if parts.scheme not in ("http", "https") or origin not in allowed_origins:
        raise Invalid(f"redirect URL not on an allowed origin: {url}", code="redirect_not_allowed")
    return url


def session_metadata(
    record: CheckoutRecord,
    *,
    tier: Tier | None,
    previous_subscription_id: str | None,
    term_days: int,
) -> dict[str, str]:
    """The metadata of DESIGN.md, set on the session and on its subscription or payment, or
    on the subscription or PaymentIntent made for the app's own card form."""
    metadata = {
        "user_id": record.user_id,
        "group_id": record.group_id,
        "purpose": record.purpose,
        "checkout_id": record.id,
    }
    if tier is not None:
        metadata.update(tier_id=tier.id, tier_interval=tier.interval)
        if tier.interval == "one_time_annual":
            metadata["term_days"] = str(term_days)
        if tier.credit_metadata:
            metadata["credit_allowances"] = tier.credit_metadata
    if previous_subscription_id:
        metadata["previous_subscription_id"] = previous_subscription_id
    if record.item_id is not None and record.reference is not None:
        metadata.update(item_id=record.item_id, reference=record.reference)
    return metadata


def invoice_description(
    record: CheckoutRecord, *, tier: Tier | None, item_name: str | None, term_days: int
) -> str:
    """What the paid invoice of a one-time payment says was bought: the one-time annual tier
    and its term, or the item and the purchase's reference."""
    if tier is not None and tier.interval == "one_time_annual":
        return f"{tier.name}: one-time annual membership ({term_days} days)"
    if tier is not None:
        return f"{tier.name} membership"
    reference = f" (reference {record.reference})" if record.reference else ""
    return f"{item_name or record.item_id}{reference}"
