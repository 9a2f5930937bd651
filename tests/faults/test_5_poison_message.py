"""Poison message: a structurally valid event a handler can never process is parked on the
DLQ with its reason, and the events behind it are processed as usual."""

import copy

import nats

from tollgate_shared.messaging import dlq
from tollgate_shared.testing import unique

PARKED = "dlq.membership.stripe.checkout.session.completed"


async def test_poison_message_is_parked_and_blocks_nothing(stack, workload) -> None:
    work = workload(10)
    await work.prepare()
    poison_id = unique("evt_poison")

    async def publish_poison() -> None:
        # A membership checkout as Stripe sends it, but without the user and group metadata
        # checkout always sets: no service can ever tell whose membership it is.
        [template, *_] = [
            e for e in await work.run_events() if e["type"] == "checkout.session.completed"
        ]
        event = copy.deepcopy(template) | {"id": poison_id}
        session = event["data"]["object"]
        session |= {
            "id": unique("cs_test_poison"),
            "client_reference_id": None,
            "subscription": None,
            "metadata": {"purpose": "membership"},
        }
        answered = await stack.post_webhook(event)
        assert answered.status_code == 200, answered.text

    half = work.stream_length // 2
    await work.run([(half, publish_poison)])
    await work.refund()
    await work.verify(dead_letters={PARKED: 1})

    nc = await nats.connect(stack.nats_url.split(","))
    try:
        js = nc.jetstream()
        [letter] = [letter async for letter in dlq.iterate(js)]
        assert (letter.service, letter.original_id) == ("membership", poison_id)
        assert letter.original_subject == "stripe.checkout.session.completed"
        assert "metadata" in letter.error.lower(), letter.error
        await dlq.drop(js, letter.sequence)  # the operator's `tollgate dlq drop`
    finally:
        await nc.close()
