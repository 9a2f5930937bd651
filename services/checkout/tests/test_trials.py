"""Tiers with a free trial: a member's first subscription of the group starts trialing (ended
by Stripe if no card is on file when it ends); anyone already reported in the group pays at
once — one trial per member and group."""

from __future__ import annotations

import httpx
import stripe
from nats.js import JetStreamContext

from tollgate_shared.contracts.membership import MembershipCanceled
from tollgate_shared.messaging.streams import DOMAIN
from tollgate_shared.testing import publish_domain_event, unique

from .conftest import auth, complete, consumed, create_tier, organizer


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
    await publish_domain_event(
        js,
        MembershipCanceled(
            user_id=returning,
            group_id=group,
            tier_id=tier["id"],
            subscription_id="sub_" + unique("earlier"),
            reason="canceled",
        ),
    )
    await consumed(js, DOMAIN.name)
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
