"""The catalog: membership tiers and one-off items, and the Stripe prices they need."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from checkout.domain.errors import Invalid
from checkout.domain.events import event_id
from tollgate_shared.contracts.checkout import CatalogEntryChanged, TierSeatsHeld

TierInterval = Literal["month", "year", "one_time_annual"]
PriceInterval = Literal["month", "year", "one_time"]
BASE_SEGMENT = ""


@dataclass(frozen=True)
class PriceSpec:
    """One Stripe price a catalog entry needs; a changed amount is a different spec."""

    segment: str
    amount: int
    currency: str
    interval: PriceInterval

    @property
    def recurring(self) -> bool:
        """Whether Stripe bills it every interval (a subscription) or once."""
        return self.interval != "one_time"


class CatalogEntry(Protocol):
    """What syncing a Stripe product needs from a tier or an item."""

    @property
    def id(self) -> str: ...
    @property
    def group_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str | None: ...
    @property
    def active(self) -> bool: ...
    @property
    def version(self) -> int: ...
    @property
    def synced_version(self) -> int | None: ...

    def price_specs(self) -> list[PriceSpec]: ...


@dataclass(frozen=True)
class Tier:
    id: str
    group_id: str
    name: str
    description: str | None
    amount: int
    currency: str
    interval: TierInterval
    capacity: int | None
    active: bool
    credit_allowances: dict[str, int] = field(default_factory=dict)
    segment_prices: dict[str, int] = field(default_factory=dict)
    trial_days: int = 0
    """A free trial a member's first subscription of the group starts with (0: none)."""
    stripe_product_id: str | None = None
    version: int = 1
    synced_version: int | None = None

    @property
    def price_interval(self) -> PriceInterval:
        """One-time annual memberships are paid once; the others recur."""
        return "one_time" if self.interval == "one_time_annual" else self.interval

    @property
    def mode(self) -> Literal["subscription", "payment"]:
        """The Checkout Session mode this tier is sold in."""
        return "payment" if self.interval == "one_time_annual" else "subscription"

    def price_specs(self) -> list[PriceSpec]:
        """The base price and one per segment price."""
        amounts = {BASE_SEGMENT: self.amount, **self.segment_prices}
        return [
            PriceSpec(segment, amount, self.currency, self.price_interval)
            for segment, amount in sorted(amounts.items())
        ]

    def price_for(self, segment: str | None) -> PriceSpec:
        """The price a caller pays: their verified segment's price if the tier has one."""
        chosen = segment if segment in self.segment_prices else BASE_SEGMENT
        return next(spec for spec in self.price_specs() if spec.segment == chosen)

    @property
    def credit_metadata(self) -> str:
        """The allowances per billing cycle as metadata: `kind=amount,...` (zeros left out)."""
        return ",".join(
            f"{kind}={amount}" for kind, amount in sorted(self.credit_allowances.items()) if amount
        )

    def ensure_sellable(self) -> None:
        """Raise unless members can buy this tier now."""
        if not self.active:
            raise Invalid(f"tier {self.id} is not on sale", code="tier_inactive")


@dataclass(frozen=True)
class Item:
    """Something bought once at a fixed price (an event-creation fee, a session booking)."""

    id: str
    group_id: str
    name: str
    description: str | None
    amount: int
    currency: str
    active: bool
    capacity: int | None = None
    """How many purchases may hold the item at once (being paid or paid); None: no limit."""
    slots: bool = False
    """Each booking reference is one slot, sold to one buyer."""
    stripe_product_id: str | None = None
    version: int = 1
    synced_version: int | None = None

    @property
    def limited(self) -> bool:
        """Whether purchases compete for it (a capacity, or one buyer per reference)."""
        return self.capacity is not None or self.slots

    def price_specs(self) -> list[PriceSpec]:
        """The item's one price."""
        return [PriceSpec(BASE_SEGMENT, self.amount, self.currency, "one_time")]

    def ensure_sellable(self) -> None:
        """Raise unless the item can be bought now."""
        if not self.active:
            raise Invalid(f"item {self.id} is not on sale", code="item_inactive")


def announcement(entry: Tier | Item) -> CatalogEntryChanged:
    """A tier or item as it is in this version: what mails and pages name it (one event id
    per entry and version)."""
    return CatalogEntryChanged(
        id=event_id(CatalogEntryChanged.declared_type(), f"{entry.id}:{entry.version}"),
        group_id=entry.group_id,
        revision=entry.version,
        entry_kind="tier" if isinstance(entry, Tier) else "item",
        entry_id=entry.id,
        name=entry.name,
        active=entry.active,
        amount=entry.amount,
        currency=entry.currency,
        interval=entry.interval if isinstance(entry, Tier) else None,
        capacity=entry.capacity,
    )


@dataclass(frozen=True)
class HeldSeats:
    """The seats checkouts hold on a tier with a capacity for users it does not count as
    members yet, at one `revision` of them: how many, and until when at the latest."""

    tier_id: str
    group_id: str
    revision: int
    held: int
    held_until: datetime | None
    """When the last of these holds lapses by time (None when none is held)."""

    def event(self) -> TierSeatsHeld:
        """The announcement of this revision (one event id per tier and revision)."""
        return TierSeatsHeld(
            id=event_id(TierSeatsHeld.declared_type(), f"{self.tier_id}:{self.revision}"),
            group_id=self.group_id,
            revision=self.revision,
            tier_id=self.tier_id,
            held=self.held,
            held_until=self.held_until if self.held else None,
        )
