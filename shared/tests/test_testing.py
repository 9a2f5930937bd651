"""The test helpers publish events exactly as the webhook gateway and the outbox relays do."""

import json

from nats.js import JetStreamContext

from tollgate_shared.contracts.membership import MembershipActivated
from tollgate_shared.contracts.stripe import StripeEvent
from tollgate_shared.infra.settings import ServiceSettings
from tollgate_shared.infra.stripe_client import API_VERSION, make_stripe_client
from tollgate_shared.messaging.publish import MSG_ID
from tollgate_shared.messaging.streams import DOMAIN, STRIPE
from tollgate_shared.testing import (
    EmulatorEvents,
    publish_domain_event,
    publish_stripe_event,
    stripe_event,
    unique,
)


async def _stored(js: JetStreamContext, subject: str) -> int:
    info = await js.stream_info(STRIPE.name, subjects_filter=subject)
    return (info.state.subjects or {}).get(subject, 0)


def test_a_stripe_event_is_a_valid_envelope_with_a_fresh_id() -> None:
    first = stripe_event("invoice.paid", {"id": "in_1", "object": "invoice"})
    second = stripe_event("invoice.paid", {"id": "in_1", "object": "invoice"}, livemode=True)

    parsed = StripeEvent.model_validate(first)
    assert (parsed.type, parsed.livemode) == ("invoice.paid", False)
    assert parsed.api_version == API_VERSION
    assert parsed.data.object == {"id": "in_1", "object": "invoice"}
    assert second["id"] != first["id"]
    assert second["livemode"] is True


async def test_a_stripe_event_is_stored_once_under_its_id_and_again_under_another(
    js: JetStreamContext,
) -> None:
    event = stripe_event(f"test.{unique('t')}", {"id": unique("obj")})
    subject = f"stripe.{event['type']}"

    await publish_stripe_event(js, event)
    await publish_stripe_event(js, event)
    assert await _stored(js, subject) == 1
    stored = await js.get_last_msg(STRIPE.name, subject)
    assert stored.headers is not None
    assert stored.headers[MSG_ID] == event["id"]
    assert json.loads(stored.data) == event

    await publish_stripe_event(js, event, msg_id=f"{event['id']}:again")
    assert await _stored(js, subject) == 2


async def test_a_domain_event_is_stored_on_its_subject_under_its_id(js: JetStreamContext) -> None:
    event = MembershipActivated(user_id=unique("user"), group_id=unique("group"))

    await publish_domain_event(js, event)
    stored = await js.get_last_msg(DOMAIN.name, event.subject)
    assert stored.headers is not None
    assert stored.headers[MSG_ID] == event.id
    assert json.loads(stored.data)["user_id"] == event.user_id


async def test_emulator_events_are_forwarded_once_in_order(
    js: JetStreamContext, stripe_emulator_url: str
) -> None:
    client = make_stripe_client(ServiceSettings(stripe_api_base=stripe_emulator_url))
    events = EmulatorEvents(stripe_emulator_url, js)
    await client.v1.products.create_async({"name": unique("earlier")})
    await events.take()

    products = [await client.v1.products.create_async({"name": unique("p")}) for _ in range(2)]
    forwarded = await events.forward("product.created")
    assert [e["data"]["object"]["id"] for e in forwarded] == [p.id for p in products]
    assert await events.forward() == []

    last = await js.get_last_msg(STRIPE.name, "stripe.product.created")
    assert json.loads(last.data)["id"] == forwarded[-1]["id"]
    assert last.headers is not None
    assert last.headers[MSG_ID] == forwarded[-1]["id"]
