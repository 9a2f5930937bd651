"""A group's sale digest (pure): the periods digests cover and the digest of one period.

A group that wants a digest (`sale_notice_digest`) gets no mail per sale: each sale notice is
recorded but held (`Status.DIGEST`), and once a period ends one digest per group lists the
sales held until then (`service_layer/digests.py`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class Periods:
    """Digest periods: `length` seconds each, starting `offset` seconds after the epoch (for
    a day of 86,400 s, `offset` is the time of day in UTC the digests go out)."""

    length: float
    offset: float = 0.0

    def start_of(self, moment: datetime) -> datetime:
        """The start of the period `moment` falls in."""
        since = moment.timestamp() - self.offset
        start = math.floor(since / self.length) * self.length + self.offset
        return datetime.fromtimestamp(start, UTC)

    def last_ended(self, now: datetime) -> tuple[datetime, datetime]:
        """The period that ended last before `now`: its start and end."""
        end = self.start_of(now)
        return end - timedelta(seconds=self.length), end


@dataclass(frozen=True)
class Sale:
    """One sale as a digest lists it: what `label` kind of sale, by whom, of what, for how
    much, and when it was recorded."""

    label: str
    member: str | None
    what: str | None
    amount: int | None
    currency: str | None
    at: str
    priced: bool = False
    """Whether `amount` is the tier's price (no payment of it was told), not what was paid."""


@dataclass(frozen=True)
class Digest:
    """The sales of `group_id` held until `end`, in the order they were recorded."""

    group_id: str
    start: datetime
    end: datetime
    sales: Sequence[Sale]

    @property
    def source_id(self) -> str:
        """The fact: this group's digest of this period (one per group and period)."""
        return f"{self.group_id}@{self.start.strftime('%Y-%m-%dT%H:%M:%SZ')}"


def sale_of(label: str, context: dict[str, Any], at: datetime) -> Sale:
    """A held sale notice's line, from what its own mail would have shown."""
    amount, currency = context.get("amount"), context.get("currency")
    priced = amount is None and context.get("price") is not None
    if priced:  # a membership whose payment was not told: the tier's price
        amount, currency = context["price"], context.get("price_currency")
    return Sale(
        label=label,
        member=context.get("member"),
        what=context.get("item_name") or context.get("tier_name") or context.get("description"),
        amount=amount,
        currency=currency,
        at=at.isoformat(),
        priced=priced,
    )
