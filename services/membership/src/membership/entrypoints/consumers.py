"""JetStream consumers: which Stripe events membership reacts to, and with which handler."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any

from membership.domain.errors import NotAMembership
from membership.service_layer.unit_of_work import MembershipUnitOfWork
from tollgate_shared.infra.runtime import Runtime
from tollgate_shared.messaging.dispatch import Handler, Prefetch, stripe_dispatcher
from tollgate_shared.messaging.message import PermanentError
from tollgate_shared.messaging.streams import STRIPE, ConsumerSpec


def _rejecting_unplaceable(handler: Handler) -> Handler:
    """Membership metadata that names no user or group can never be applied: park it."""

    @wraps(handler)
    async def handle(uow: MembershipUnitOfWork, event: Any) -> None:
        try:
            await handler(uow, event)
        except NotAMembership as exc:
            raise PermanentError(str(exc)) from exc

    return handle


def stripe_consumer(durable: str) -> ConsumerSpec:
    """Membership's durable consumer `durable` on the STRIPE stream. Its fetches are applied
    without a savepoint per message: what the handlers do outside the database is reading
    Stripe and cancelling a superseded subscription under an idempotency key of the pair, so
    when a failure rolls a fetch back and its messages are applied again one by one, doing
    that again changes nothing."""
    return ConsumerSpec(durable=durable, stream=STRIPE, filter_subject="stripe.>", savepoints=False)


def register(
    runtime: Runtime,
    handlers: Mapping[str, Handler],
    units: Callable[[], MembershipUnitOfWork],
    *,
    durable: str,
    prefetch: Prefetch,
) -> None:
    """Subscribe membership's durable consumer `durable` on the STRIPE stream; `prefetch` runs
    before the handlers of each fetch applied together."""
    wrapped = {subject: _rejecting_unplaceable(h) for subject, h in handlers.items()}
    dispatcher = stripe_dispatcher(wrapped, prefetch=prefetch)
    runtime.consume(stripe_consumer(durable), dispatcher, units=units)
