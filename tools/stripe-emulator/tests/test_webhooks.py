"""Webhook delivery: signing, retries, delivery modes, endpoints API and the events API."""

import time

import stripe

from stripe_emulator.testing import RunningEmulator, WebhookReceiver, receive_webhooks, wait_for

WEBHOOK_SECRET = "whsec_test_secret_for_the_emulator"


def test_retries_after_500_then_records_success(
    client: stripe.StripeClient, hooked: RunningEmulator, receiver: WebhookReceiver
) -> None:
    receiver.fail_next = 2

    customer = client.v1.customers.create({"email": "r@example.com"})

    received = wait_for(receiver.snapshot, what="a delivery after retries")
    event = stripe.Webhook.construct_event(received[0].body, received[0].signature, WEBHOOK_SECRET)
    assert event.type == "customer.created" and event.data.object.id == customer.id
    attempts = hooked.control("GET", "/deliveries", params={"event": event.id})
    assert [(a["attempt"], a["status_code"], a["succeeded"]) for a in attempts] == [
        (1, 500, False),
        (2, 500, False),
        (3, 200, True),
    ]
    delivered = client.v1.events.list({"delivery_success": True}).data
    assert [e.id for e in delivered] == [event.id]
    assert client.v1.events.retrieve(event.id).pending_webhooks == 0


def test_undelivered_events_are_listed_as_failed(
    client: stripe.StripeClient, emulator: RunningEmulator
) -> None:
    emulator.control(
        "POST",
        "/webhook_endpoints",
        json={"url": "http://127.0.0.1:9/nobody-listens", "secret": WEBHOOK_SECRET},
    )

    client.v1.customers.create({"email": "x@example.com"})

    failed = client.v1.events.list({"delivery_success": False}).data
    assert [e.type for e in failed] == ["customer.created"]
    wait_for(lambda: len(emulator.control("GET", "/deliveries")) == 5, what="all retry attempts")
    assert all(d["error"] for d in emulator.control("GET", "/deliveries"))


def test_duplicate_mode_delivers_each_event_twice(
    client: stripe.StripeClient, hooked: RunningEmulator, receiver: WebhookReceiver
) -> None:
    hooked.control("POST", "/delivery", json={"mode": "duplicate"})

    client.v1.customers.create({"email": "d@example.com"})

    wait_for(lambda: len(receiver.snapshot()) == 2, what="two deliveries")
    first, second = receiver.snapshot()
    assert first.event["id"] == second.event["id"]


def test_out_of_order_mode_reverses_a_burst(
    client: stripe.StripeClient, hooked: RunningEmulator, receiver: WebhookReceiver
) -> None:
    hooked.control("POST", "/delivery", json={"mode": "out_of_order", "window_seconds": 0.5})

    customer = client.v1.customers.create({"email": "o@example.com"})
    client.v1.customers.update(customer.id, {"name": "Ada"})

    wait_for(lambda: len(receiver.snapshot()) == 2, what="both events")
    assert receiver.types() == ["customer.updated", "customer.created"]


def test_delayed_mode_still_delivers_in_order(
    client: stripe.StripeClient, hooked: RunningEmulator, receiver: WebhookReceiver
) -> None:
    hooked.control("POST", "/delivery", json={"mode": "delayed", "delay_seconds": 0.05})

    customer = client.v1.customers.create({"email": "l@example.com"})
    client.v1.customers.update(customer.id, {"name": "Ada"})

    wait_for(lambda: len(receiver.snapshot()) == 2, what="both events")
    assert receiver.types() == ["customer.created", "customer.updated"]


def test_webhook_endpoint_api_secret_filters_and_delete(
    client: stripe.StripeClient, emulator: RunningEmulator
) -> None:
    with receive_webhooks() as receiver:
        endpoint = client.v1.webhook_endpoints.create(
            {"url": receiver.url, "enabled_events": ["product.*"]}
        )
        assert endpoint.secret and endpoint.secret.startswith("whsec_")
        assert [e.id for e in client.v1.webhook_endpoints.list().data] == [endpoint.id]

        client.v1.customers.create({"email": "ignored@example.com"})
        product = client.v1.products.create({"name": "Wanted"})

        got = wait_for(receiver.snapshot, what="the product event")
        event = stripe.Webhook.construct_event(got[0].body, got[0].signature, endpoint.secret)
        assert event.type == "product.created" and event.data.object.id == product.id

        assert client.v1.webhook_endpoints.delete(endpoint.id).deleted
        client.v1.products.create({"name": "Unseen"})
        assert client.v1.events.list({"type": "product.created"}).data[0].pending_webhooks == 0
        assert len(receiver.snapshot()) == 1


def test_events_filters(client: stripe.StripeClient) -> None:
    start = int(time.time())
    product = client.v1.products.create({"name": "P"})
    client.v1.products.update(product.id, {"name": "Q"})
    client.v1.customers.create({})

    assert [e.type for e in client.v1.events.list({"type": "product.*"}).data] == [
        "product.updated",
        "product.created",
    ]
    updated = client.v1.events.list({"type": "product.updated"}).data[0]
    assert updated.data.previous_attributes.to_dict() == {"name": "P"}
    both = client.v1.events.list({"types": ["customer.created", "product.created"]}).data
    assert [e.type for e in both] == ["customer.created", "product.created"]
    assert len(client.v1.events.list({"created": {"gte": start}}).data) == 3
    assert client.v1.events.list({"created": {"lt": start - 60}}).data == []
