"""Scale out: two replicas of every consumer service on the same durables and database, under
events delivered twice, newest first and replayed, one replica of each SIGKILLed mid-stream."""

import asyncio
import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from tollgate_shared.messaging.publish import ORIGINAL_MSG_ID, publish_with_ack

from .conftest import Stack, Step, Workload, replica
from .test_1_consumer_kill import _kill_outside_the_smtp_window

SCALED = ("membership", "ledger", "notifications", "checkout")


async def test_two_replicas_of_each_consumer_apply_every_event_once_while_one_of_each_dies(
    stack: Stack, workload: Any
) -> None:
    await stack.start_services(*(replica(s) for s in SCALED))  # both migrate, on start too
    took: dict[str, Counter[tuple[str, str, str]]] = {}
    since = datetime.now(UTC) - timedelta(seconds=1)
    try:
        work: Workload = workload(40)
        await work.prepare()
        # Stripe delivers every event twice (the gateway stores it once), then newest first.
        await stack.control("/delivery", {"mode": "duplicate"})

        def shuffle() -> Step:
            async def fault() -> None:
                await stack.control("/delivery", {"mode": "out_of_order", "window_seconds": 0.3})

            return fault

        def kill(service: str) -> Step:
            async def fault() -> None:
                took[service] = await stack.consumed(replica(service))
                if service == "notifications":
                    await _kill_outside_the_smtp_window(stack, replica(service))
                    stack.smtp_proxy.restore()
                else:
                    await stack.kill(replica(service))

            return fault

        async def replay() -> None:
            """Every event so far again, shuffled, under the original's id (as a replay from
            the DLQ or a rewind delivers it): consumers see each a second time."""
            events = await work.run_events()
            random.Random(len(events)).shuffle(events)
            nc, js = await stack.jetstream()
            try:
                for event in events:
                    await publish_with_ack(
                        js,
                        f"stripe.{event['type']}",
                        json.dumps(event).encode(),
                        msg_id=f"{event['id']}:again",
                        stream="STRIPE",
                        headers={ORIGINAL_MSG_ID: event["id"]},
                    )
            finally:
                await nc.close()

        gap = work.stream_length // (len(SCALED) + 2)
        faults = [(gap * (i + 1), kill(service)) for i, service in enumerate(SCALED)]
        faults += [(gap * 2, shuffle()), (gap * 3 + 1, replay)]
        await work.run(sorted(faults, key=lambda fault: fault[0]))
        await work.refund()
        # What the services cause from here on (a superseded subscription cancelled late, after
        # a redelivery) is delivered at once: the checks end with nothing left to deliver.
        await stack.control("/delivery", {"mode": "normal"})
        await work.verify()
        await _assert_occupancy(stack, work)
        await _assert_relayed_once(stack, since)
    finally:
        await stack.control("/delivery", {"mode": "normal"})
        stack.smtp_proxy.restore()
        for service in SCALED:  # those still running after a failure
            if replica(service) in stack.services:
                await asyncio.to_thread(stack.services.pop(replica(service)).stop)
    # The replicas shared the work: each had applied messages of its durables before it died.
    for service in SCALED:
        processed = sum(n for (_, _, outcome), n in took[service].items() if outcome == "processed")
        assert processed > 0, (service, took[service])


async def _assert_occupancy(stack: Stack, work: Workload) -> None:
    """Checkout counts each member's seat as membership last said."""
    async with await psycopg.AsyncConnection.connect(stack.database_url("checkout")) as conn:
        rows = await conn.execute(
            "SELECT user_id, active, tier_id FROM members WHERE group_id = %s", (work.group,)
        )
        found = await rows.fetchall()
    seats = {user: (active, tier if active else None) for user, active, tier in found}
    expected = {
        m.user: (not m.refunded, None if m.refunded else m.final_tier) for m in work.members
    }
    assert seats == expected


async def _assert_relayed_once(stack: Stack, since: datetime) -> None:
    """Every event the four services queued in their outboxes since `since` is marked relayed
    and on the DOMAIN stream exactly once, whichever replica's relay took it."""
    on_domain = Counter(await stack.msg_ids("DOMAIN"))
    for service in SCALED:
        async with await psycopg.AsyncConnection.connect(stack.database_url(service)) as conn:
            rows = await conn.execute(
                "SELECT message_id, published_at FROM outbox WHERE created_at >= %s", (since,)
            )
            queued = dict(await rows.fetchall())
        assert [m for m, published in queued.items() if published is None] == [], service
        assert {m: on_domain[m] for m in queued if on_domain[m] != 1} == {}, service
