"""The ledger counts the payment outcomes Stripe reports (`tollgate_payment_events_total`), once
each when it has applied them: a replay of one it applied counts nothing."""

from __future__ import annotations

import json

import httpx
from nats.js import JetStreamContext
from prometheus_client.parser import text_string_to_metric_families

from tollgate_shared.messaging.publish import ORIGINAL_MSG_ID, publish_with_ack
from tollgate_shared.messaging.streams import STRIPE
from tollgate_shared.testing import (
    consumer_idle,
    publish_stripe_event,
    stripe_event,
    unique,
    wait_until,
)


async def _failed_charges(ledger: httpx.AsyncClient) -> float:
    page = (await ledger.get("/metrics")).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(page)
        for sample in family.samples
        if sample.name == "tollgate_payment_events_total"
        and sample.labels == {"consumer": "ledger", "type": "charge.failed"}
    )


async def test_a_failed_charge_is_counted_once(
    ledger: httpx.AsyncClient, js: JetStreamContext
) -> None:
    before = await _failed_charges(ledger)
    failed = stripe_event("charge.failed", {"id": unique("ch"), "object": "charge"})
    await publish_stripe_event(js, failed)
    await wait_until(lambda: consumer_idle(js, STRIPE.name, "ledger"), message="applied")
    replay = {ORIGINAL_MSG_ID: failed["id"]}  # as `tollgate dlq replay` sends it again
    data = json.dumps(failed).encode()
    await publish_with_ack(js, "stripe.charge.failed", data, msg_id=unique("r"), headers=replay)
    await wait_until(lambda: consumer_idle(js, STRIPE.name, "ledger"), message="acked")
    assert await _failed_charges(ledger) == before + 1
