"""Paused payment collection: renewals invoice but collect nothing; resuming, by hand, by
`resumes_at`, or with the period restarted now (`billing_cycle_anchor=now`)."""

from typing import Any

import pytest
import stripe

from stripe_emulator.testing import RunningEmulator

from .test_subscriptions import subscribe


@pytest.mark.parametrize(
    ("behavior", "invoice_status", "event"),
    [
        ("void", "void", "invoice.voided"),
        ("mark_uncollectible", "uncollectible", "invoice.marked_uncollectible"),
        ("keep_as_draft", "draft", "invoice.created"),
    ],
)
def test_a_paused_subscription_renews_without_collecting(
    client: stripe.StripeClient,
    catalog: dict[str, Any],
    emulator: RunningEmulator,
    behavior: str,
    invoice_status: str,
    event: str,
) -> None:
    subscription = subscribe(client, emulator, catalog)
    period_end = subscription["items"].data[0].current_period_end

    paused = client.v1.subscriptions.update(
        subscription.id, {"pause_collection": {"behavior": behavior}}
    )

    assert paused.status == "active"
    assert paused.pause_collection.behavior == behavior
    assert paused.pause_collection.resumes_at is None
    update = emulator.events("customer.subscription.updated")[-1]
    assert update["data"]["previous_attributes"] == {"pause_collection": None}
    charges_before = len(client.v1.charges.list({"limit": 100}).data)

    emulator.control("POST", f"/subscriptions/{subscription.id}/advance", json={})

    renewed = client.v1.subscriptions.retrieve(subscription.id)
    assert renewed.status == "active"
    assert renewed["items"].data[0].current_period_start == period_end
    invoice = client.v1.invoices.retrieve(renewed.latest_invoice)
    assert invoice.status == invoice_status and invoice.amount_paid == 0
    assert invoice.billing_reason == "subscription_cycle"
    assert event in emulator.event_types()
    assert "invoice.paid" not in emulator.event_types()[-6:]
    assert len(client.v1.charges.list({"limit": 100}).data) == charges_before


def test_resuming_collects_the_next_renewal(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    subscription = subscribe(client, emulator, catalog)
    client.v1.subscriptions.update(subscription.id, {"pause_collection": {"behavior": "void"}})

    resumed = client.v1.subscriptions.update(subscription.id, {"pause_collection": ""})

    assert resumed.pause_collection is None
    previous = emulator.events("customer.subscription.updated")[-1]["data"]
    assert previous["previous_attributes"]["pause_collection"]["behavior"] == "void"
    emulator.control("POST", f"/subscriptions/{subscription.id}/advance", json={})
    invoice = client.v1.invoices.retrieve(
        client.v1.subscriptions.retrieve(subscription.id).latest_invoice
    )
    assert invoice.status == "paid" and invoice.amount_paid == catalog["monthly"].unit_amount


def test_collection_resumes_by_itself_at_resumes_at(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    subscription = subscribe(client, emulator, catalog)
    period_end = subscription["items"].data[0].current_period_end
    client.v1.subscriptions.update(
        subscription.id,
        {"pause_collection": {"behavior": "void", "resumes_at": period_end - 60}},
    )

    emulator.control("POST", f"/subscriptions/{subscription.id}/advance", json={})

    renewed = client.v1.subscriptions.retrieve(subscription.id)
    assert renewed.pause_collection is None
    assert client.v1.invoices.retrieve(renewed.latest_invoice).status == "paid"


def test_restarting_the_period_now_bills_it_at_once(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    subscription = subscribe(client, emulator, catalog)
    client.v1.subscriptions.update(subscription.id, {"pause_collection": {"behavior": "void"}})
    emulator.control("POST", f"/subscriptions/{subscription.id}/advance", json={})

    restarted = client.v1.subscriptions.update(
        subscription.id,
        {
            "pause_collection": "",
            "billing_cycle_anchor": {"type": "now"},
            "proration_behavior": "none",
        },
    )

    item = restarted["items"].data[0]
    assert restarted.pause_collection is None and restarted.status == "active"
    assert restarted.billing_cycle_anchor == item.current_period_start
    assert item.current_period_end > item.current_period_start
    invoice = client.v1.invoices.retrieve(restarted.latest_invoice)
    assert invoice.billing_reason == "subscription_update"
    assert invoice.status == "paid" and invoice.amount_paid == catalog["monthly"].unit_amount


def test_bad_pause_requests_are_stripes_errors(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    subscription = subscribe(client, emulator, catalog)
    for bad, param in [
        ({"pause_collection": {"behavior": "sleep"}}, "pause_collection[behavior]"),
        ({"pause_collection": {"resumes_at": 1}}, "pause_collection[behavior]"),
        (
            {"pause_collection": {"behavior": "void", "resumes_at": 1}},
            "pause_collection[resumes_at]",
        ),
        ({"billing_cycle_anchor": {"type": "now"}}, "billing_cycle_anchor"),
        ({"billing_cycle_anchor": {"type": "later"}}, "billing_cycle_anchor[type]"),
    ]:
        with pytest.raises(stripe.InvalidRequestError) as refused:
            client.v1.subscriptions.update(subscription.id, bad)
        assert refused.value.http_status == 400 and refused.value.param == param
    assert client.v1.subscriptions.retrieve(subscription.id).pause_collection is None
