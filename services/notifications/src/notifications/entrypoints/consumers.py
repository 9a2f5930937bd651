"""JetStream consumers: domain events and the Stripe events notifications mails about."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from notifications.adapters import directory
from notifications.adapters.deferred import deferred
from notifications.service_layer.handlers import Handlers
from tollgate_shared.messaging.consumer import Incoming
from tollgate_shared.messaging.dispatch import domain_dispatcher, stripe_dispatcher
from tollgate_shared.messaging.streams import DOMAIN, STRIPE, ConsumerSpec
from tollgate_shared.runtime import Runtime


async def _read_groups(session: AsyncSession, incomings: Sequence[Incoming]) -> None:
    """The groups a fetch's domain events name, in one statement before their handlers."""
    group_ids: set[str] = set()
    for incoming in incomings:
        try:
            event = json.loads(incoming.data)
        except ValueError:
            continue  # its handler rejects it
        if isinstance(event, dict) and isinstance(event.get("group_id"), str):
            group_ids.add(event["group_id"])
    if group_ids:
        await directory.read_groups(session, group_ids)


def register(runtime: Runtime, handlers: Handlers, *, durable: str, ack_wait: float) -> None:
    """One durable consumer per stream, asking for the handled subjects only. The handlers
    only record in the database (the sender mails later), so a fetch needs no savepoint per
    message: after a failure its messages are simply applied again one by one. Addresses and
    notifications are written once per transaction (`deferred`); the groups a fetch of domain
    events names are read before its handlers, in one statement."""
    domain = domain_dispatcher(handlers.domain())
    spec = ConsumerSpec(durable, DOMAIN, ">", ack_wait=ack_wait, savepoints=False)
    runtime.consume(spec, domain, scope=deferred, prefetch=_read_groups)
    stripe = stripe_dispatcher(handlers.stripe())
    spec = ConsumerSpec(durable, STRIPE, "stripe.>", ack_wait=ack_wait, savepoints=False)
    runtime.consume(spec, stripe, scope=deferred)
