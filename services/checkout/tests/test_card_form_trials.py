"""Free trials in the app's own card form: a member's first subscription of the group starts
`trialing` with nothing due and a SetupIntent (`intent_type: setup`) that saves the card its
trial's end is billed to; anyone the group knew before pays at once (`intent_type: payment`).
The same rules as Checkout's trials (test_trials.py), across checkout, NATS, Postgres and the
emulator."""

from datetime import UTC, datetime, timedelta

import httpx
import stripe
from nats.js import JetStreamContext

from tollgate_shared.contracts.membership import MembershipActivated
from tollgate_shared.messaging.streams import DOMAIN, STRIPE
from tollgate_shared.testing import EmulatorEvents, publish_domain_event, unique

from .conftest import auth, consumed, create_tier, known_in_group, paid_annual_term
from .test_card_form_subscriptions import intent_of, subscribe


async def test_a_first_time_member_trials_and_the_saved_card_pays_when_it_ends(
    api: httpx.AsyncClient,
    emulator: httpx.AsyncClient,
    stripe_client: stripe.StripeClient,
    js: JetStreamContext,
    stripe_events: EmulatorEvents,
) -> None:
    group, member = unique("group"), unique("user")
    tier = await create_tier(api, group, trial_days=14, capacity=1)
    headers = auth(member) | {"Idempotency-Key": unique("key")}

    started = await api.post(
        "/checkout/subscriptions", json={"tier_id": tier["id"]}, headers=headers
    )

    assert started.status_code == 201, started.text
    body = started.json()
    assert set(body) == {"subscription_id", "client_secret", "intent_type", "status", "trial_end"}
    assert (body["intent_type"], body["status"]) == ("setup", "trialing")
    assert body["client_secret"].startswith("seti_") and "_secret_" in body["client_secret"]
    trial_end = datetime.fromisoformat(body["trial_end"])
    assert abs(trial_end - (datetime.now(UTC) + timedelta(days=14))) < timedelta(minutes=5)
    subscription = await stripe_client.v1.subscriptions.retrieve_async(
        body["subscription_id"], {"expand": ["latest_invoice", "pending_setup_intent"]}
    )
    assert subscription.trial_end == int(trial_end.timestamp())
    assert subscription.trial_settings.end_behavior.missing_payment_method == "cancel"
    assert subscription.payment_settings.save_default_payment_method == "on_subscription"
    assert subscription.metadata["tier_id"] == tier["id"]
    first = subscription.latest_invoice
    assert isinstance(first, stripe.Invoice)
    assert (first.status, first.amount_paid) == ("paid", 0)
    setup = subscription.pending_setup_intent
    assert isinstance(setup, stripe.SetupIntent)
    assert (setup.client_secret, setup.status) == (body["client_secret"], "requires_payment_method")

    # Nothing due: checkout counts it paid at once, so its seat is held (no lapse after 23
    # hours as for an unpaid one) and nobody else gets it, whatever Stripe's events say next.
    await stripe_events.forward()
    await consumed(js, STRIPE.name)
    full = await subscribe(api, tier["id"])
    assert (full.status_code, full.json()["error"]["code"]) == (409, "tier_full")
    again = await subscribe(api, tier["id"], member)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "already_paid")

    # The card form confirms the SetupIntent (Stripe.js `confirmSetup`); the card is saved on
    # the subscription, which bills it when the trial ends.
    confirmed = await stripe_client.v1.setup_intents.confirm_async(
        setup.id, {"payment_method": "pm_card_visa"}
    )
    assert confirmed.status == "succeeded"
    ended = await emulator.post(f"/_emulator/subscriptions/{subscription.id}/advance", json={})
    assert ended.json()["status"] == "active", ended.text
    await stripe_events.forward()
    await consumed(js, STRIPE.name)
    invoices = await api.get(f"/billing/{member}/invoices", headers=auth(member))
    assert [(i["status"], i["amount_paid"]) for i in invoices.json()["items"]] == [
        ("paid", 2000),
        ("paid", 0),
    ]
    replayed = await api.post(
        "/checkout/subscriptions", json={"tier_id": tier["id"]}, headers=headers
    )
    assert replayed.json() == body | {"status": "active"}

    # Membership counts the member (trialing is access): the seat is theirs from then on.
    await publish_domain_event(
        js,
        MembershipActivated(
            user_id=member, group_id=group, tier_id=tier["id"], subscription_id=subscription.id
        ),
    )
    await consumed(js, DOMAIN.name)
    member_again = await subscribe(api, tier["id"], member)
    assert (member_again.status_code, member_again.json()["error"]["code"]) == (
        409,
        "already_member",
    )


async def test_a_member_the_group_knew_before_pays_at_once(
    api: httpx.AsyncClient, stripe_client: stripe.StripeClient, js: JetStreamContext
) -> None:
    group, returning = unique("group"), unique("user")
    tier = await create_tier(api, group, trial_days=14)
    await known_in_group(js, returning, group, tier["id"])

    started = await subscribe(api, tier["id"], returning)

    assert started.status_code == 201, started.text
    body = started.json()
    assert (body["intent_type"], body["status"], body["trial_end"]) == (
        "payment",
        "incomplete",
        None,
    )
    intent = await stripe_client.v1.payment_intents.retrieve_async(intent_of(body["client_secret"]))
    assert (intent.amount, intent.status) == (2000, "requires_payment_method")
    subscription = await stripe_client.v1.subscriptions.retrieve_async(body["subscription_id"])
    assert subscription.trial_end is None and subscription.pending_setup_intent is None


async def test_a_member_of_a_paid_annual_term_trials_until_the_term_ends(
    api: httpx.AsyncClient,
    emulator: httpx.AsyncClient,
    stripe_client: stripe.StripeClient,
    js: JetStreamContext,
    stripe_events: EmulatorEvents,
) -> None:
    """As at Checkout: billed from the paid term's end on, never twice for the same days."""
    group, user = unique("group"), unique("user")
    annual = await create_tier(api, group, interval="one_time_annual", amount=15000)
    monthly = await create_tier(api, group)
    bought = await paid_annual_term(api, emulator, js, stripe_events, user, annual)

    started = await subscribe(api, monthly["id"], user)

    assert started.status_code == 201, started.text
    body = started.json()
    assert (body["intent_type"], body["status"]) == ("setup", "trialing")
    term = await stripe_client.v1.checkout.sessions.retrieve_async(bought)
    expected = term.created + 365 * 86400  # the emulator pays at once
    assert abs(datetime.fromisoformat(body["trial_end"]).timestamp() - expected) <= 5
    subscription = await stripe_client.v1.subscriptions.retrieve_async(body["subscription_id"])
    assert subscription.trial_end == int(datetime.fromisoformat(body["trial_end"]).timestamp())
