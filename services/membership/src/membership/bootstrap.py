"""Membership's composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from membership.adapters import orm
from membership.adapters.billing import StripeBilling
from membership.config import Settings
from membership.entrypoints import consumers
from membership.service_layer.stripe_events import StripeEvents
from membership.service_layer.unit_of_work import MembershipUnitOfWork
from tollgate_shared.infra.runtime import Runtime
from tollgate_shared.infra.stripe_client import make_stripe_client


@dataclass(frozen=True)
class Membership:
    """The running service's parts."""

    settings: Settings
    runtime: Runtime
    stripe_events: StripeEvents
    uow: Callable[[], MembershipUnitOfWork]
    """A unit of work per transaction."""


def build(settings: Settings) -> Membership:
    """Database, broker, Stripe, the STRIPE consumer and the outbox relay."""
    runtime = Runtime.build(settings, inbox=orm.inbox, outbox=orm.outbox, read_pool=True)
    stripe_events = StripeEvents(StripeBilling(make_stripe_client(settings)), settings)
    units = runtime.units(MembershipUnitOfWork)
    consumers.register(
        runtime,
        stripe_events.handlers(),
        units,
        durable=settings.membership_consumer,
        prefetch=stripe_events.lock_ahead,
    )
    return Membership(settings=settings, runtime=runtime, stripe_events=stripe_events, uow=units)
