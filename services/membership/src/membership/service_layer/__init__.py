"""One handler per Stripe event (in the consumer's unit of work, never committing) and per
command (in a unit of work of its own)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from membership.service_layer.self_service import SelfService
    from membership.service_layer.stripe_events import StripeEvents
    from membership.service_layer.unit_of_work import MembershipUnitOfWork


@dataclass(frozen=True)
class Deps:
    """What membership's handlers and routes need besides a unit of work."""

    uow: Callable[[], MembershipUnitOfWork]
    """A unit of work per transaction (a request's, the sweeper's)."""
    stripe_events: StripeEvents
    """The handlers of Stripe's events, with the Stripe client they read through."""
    self_service: SelfService
    """The member's own controls (list, end, resume), through the same Stripe client."""
