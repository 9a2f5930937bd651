"""One handler per Stripe event (in the consumer's unit of work, never committing) and per
command (in units of work of its own)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ledger.adapters.stripe_gateway import StripeGateway
from tollgate_shared.contracts.stripe import StripeEvent

if TYPE_CHECKING:
    from ledger.service_layer.unit_of_work import LedgerUnitOfWork


@dataclass(frozen=True)
class Deps:
    """What handlers need besides their unit of work: Stripe, and units of work for the
    commands that open transactions of their own."""

    stripe: StripeGateway
    uow: Callable[[], LedgerUnitOfWork]


Handler = Callable[[Deps, "LedgerUnitOfWork", StripeEvent], Awaitable[None]]
"""A Stripe event's handler: in the consumer's unit of work, never committing."""


def at(epoch: int | None) -> datetime:
    """A Stripe timestamp as an aware datetime."""
    return datetime.fromtimestamp(epoch or 0, UTC)
