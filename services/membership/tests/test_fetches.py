"""A fetch applied together: what its members' locks and subscriptions read ahead give stays
right when a message between two snapshots of one subscription fails (the fetch is rolled
back and its messages applied again one by one)."""

from __future__ import annotations

import time
from typing import Any

from nats.js import JetStreamContext

from tollgate_shared.messaging.streams import DLQ, dlq_subject
from tollgate_shared.testing import publish_stripe_event, stripe_event, unique

from .conftest import ServiceFactory


def _snapshot(sub_id: str, metadata: dict[str, str], *, status: str, at: int) -> dict[str, Any]:
    return {
        "id": sub_id,
        "object": "subscription",
        "status": status,
        "customer": None,
        "created": at,
        "start_date": at,
        "cancel_at_period_end": False,
        "metadata": metadata,
        "items": {
            "object": "list",
            "data": [
                {
                    "id": unique("si"),
                    "object": "subscription_item",
                    "current_period_start": at,
                    "current_period_end": at + 30 * 86400,
                    "price": {"id": "price_x", "object": "price", "unit_amount": 1500},
                    "quantity": 1,
                }
            ],
        },
    }


async def test_a_rolled_back_message_between_two_snapshots_of_one_subscription(
    membership_service: ServiceFactory, js: JetStreamContext
) -> None:
    user, group, sub_id = unique("user"), unique("group"), unique("sub")
    meta = {"purpose": "membership", "user_id": user, "group_id": group, "tier_id": "gold"}
    unplaceable = {"purpose": "membership", "group_id": group}  # no user: parked at once
    now = int(time.time())
    # The newer snapshot first: the older one, applied after it in the same fetch, must see
    # what the first saved (not what was read ahead for the fetch) and be ignored.
    events = [
        stripe_event(
            "customer.subscription.updated",
            _snapshot(sub_id, meta | {"tier_id": "platinum"}, status="active", at=now - 20),
            created=now - 10,
        ),
        stripe_event(
            "customer.subscription.updated",
            _snapshot(unique("sub"), unplaceable, status="active", at=now - 15),
            created=now - 15,
        ),
        stripe_event(
            "customer.subscription.created",
            _snapshot(sub_id, meta, status="active", at=now - 20),
            created=now - 20,
        ),
    ]
    for event in events:  # stored before the service starts: one fetch holds them all
        await publish_stripe_event(js, event)
    async with membership_service() as service:
        # The DLQ stream keeps what was parked: subscribing once the service runs misses none.
        dlq = await js.subscribe(
            dlq_subject(service.durable, "stripe.customer.subscription.updated"), stream=DLQ.name
        )
        try:
            parked = await dlq.next_msg(timeout=30)
            assert parked.headers["Tollgate-Original-Msg-Id"] == events[1]["id"]
            await service.settle()
            gate = await service.gate(user, group)
            assert (gate["active"], gate["tier_id"]) == (True, "platinum")
            types = await service.event_types(user)
            assert types == ["membership.activated"]
        finally:
            await dlq.unsubscribe()
