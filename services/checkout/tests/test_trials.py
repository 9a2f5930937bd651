"""Tiers with a free trial: a member's first subscription of the group starts trialing (ended
by Stripe if no card is on file when it ends); anyone already reported in the group pays at
once — one trial per member and group."""

from __future__ import annotations

import httpx
import stripe
from nats.js import JetStreamContext

from tollgate_shared.testing import EmulatorEvents, unique

from .conftest import auth, complete, create_tier, known_in_group, organizer, paid_annual_term


async def _subscription_of(
    api: httpx.AsyncClient,
    emulator: httpx.AsyncClient,
    stripe_client: stripe.StripeClient,
    tier_id: str,
    user: str,
) -> stripe.Subscription:
    headers = auth(user) | {"Idempotency-Key": unique("key")}
    started = await api.post("/checkout/sessions", json={"tier_id": tier_id}, headers=headers)
    assert started.status_code == 201, started.text
    done = await complete(emulator, started.json()["session_id"])
    return await stripe_client.v1.subscriptions.retrieve_async(done["session"]["subscription"])


async def test_a_first_time_member_trials_and_a_returning_one_pays_at_once(
    api: httpx.AsyncClient,
    emulator: httpx.AsyncClient,
    stripe_client: stripe.StripeClient,
    js: JetStreamContext,
) -> None:
    group, newcomer, returning = unique("group"), unique("user"), unique("user")
    tier = await create_tier(api, group, trial_days=14)
    assert tier["trial_days"] == 14

    trialing = await _subscription_of(api, emulator, stripe_client, tier["id"], newcomer)
    assert trialing.status == "trialing"
    assert trialing.trial_end - trialing.trial_start == 14 * 86400
    assert trialing.trial_settings.end_behavior.missing_payment_method == "cancel"

    # A member the group has known before (a trial that ended, say) gets no second trial.
    await known_in_group(js, returning, group, tier["id"])
    paying = await _subscription_of(api, emulator, stripe_client, tier["id"], returning)
    assert paying.status == "active" and paying.trial_end is None


async def test_trial_days_are_validated_and_changed_by_organizers(
    api: httpx.AsyncClient,
) -> None:
    group = unique("group")
    for days in (-1, 731, "fourteen"):
        refused = await api.post(
            f"/groups/{group}/tiers",
            json={
                "name": "Trial",
                "amount": 900,
                "currency": "eur",
                "interval": "month",
                "trial_days": days,
            },
            headers=organizer(group),
        )
        assert refused.status_code == 422, days
    tier = await create_tier(api, group)
    assert tier["trial_days"] == 0
    patched = await api.patch(
        f"/tiers/{tier['id']}", json={"trial_days": 7}, headers=organizer(group)
    )
    assert patched.status_code == 200 and patched.json()["trial_days"] == 7
    member = await api.patch(f"/tiers/{tier['id']}", json={"trial_days": 3}, headers=auth())
    assert member.status_code == 403


async def test_a_member_of_a_paid_annual_term_starts_paying_a_subscription_when_it_ends(
    api: httpx.AsyncClient,
    emulator: httpx.AsyncClient,
    stripe_client: stripe.StripeClient,
    js: JetStreamContext,
    stripe_events: EmulatorEvents,
) -> None:
    group, user = unique("group"), unique("user")
    annual = await create_tier(api, group, interval="one_time_annual", amount=15000)
    monthly = await create_tier(api, group, trial_days=14)
    bought = await paid_annual_term(api, emulator, js, stripe_events, user, annual)

    switched = await _subscription_of(api, emulator, stripe_client, monthly["id"], user)
    assert switched.status == "trialing"  # billed from the term's end on, not from today
    term = await stripe_client.v1.checkout.sessions.retrieve_async(bought)
    paid = term.created  # the emulator pays at once
    expected = paid + 365 * 86400
    assert abs(switched.trial_end - expected) <= 5, (switched.trial_end, expected)
