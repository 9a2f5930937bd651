"""One handler per Stripe event and per command; handlers never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Table

from ledger.adapters.stripe_gateway import StripeGateway


@dataclass(frozen=True)
class Deps:
    """What handlers need besides the session: Stripe and the outbox table."""

    stripe: StripeGateway
    outbox: Table


def at(epoch: int | None) -> datetime:
    """A Stripe timestamp as an aware datetime."""
    return datetime.fromtimestamp(epoch or 0, UTC)
