"""A switch billed now whose payment asks for 3-D Secure: the answer carries the invoice's
client secret and the membership keeps its tier until the member confirms; confirmed, Stripe
applies the switch and membership follows from the webhook; failed, nothing changes."""

from __future__ import annotations

import pytest

from tollgate_shared.testing import EmulatorEvents

from .conftest import ADMIN, Emulator, ServiceFactory, bearer, user_token
from .test_self_service import _joined, _post, _tier


async def _card_asking_for_3d_secure(emulator: Emulator, subscription: str) -> None:
    client = emulator.client.v1
    customer = str((await client.subscriptions.retrieve_async(subscription)).customer)
    method = await client.payment_methods.attach_async(
        "pm_card_threeDSecure2Required", {"customer": customer}
    )
    await client.subscriptions.update_async(subscription, {"default_payment_method": method.id})


@pytest.mark.parametrize(("outcome", "tier_after"), [("succeed", "new"), ("fail", "gold")])
async def test_an_upgrade_needing_3d_secure_answers_a_client_secret_and_waits_for_it(
    membership_service: ServiceFactory,
    emulator: Emulator,
    deliverer: EmulatorEvents,
    outcome: str,
    tier_after: str,
) -> None:
    async with membership_service(membership_proration_behavior="always_invoice") as service:
        user, group, subscription = await _joined(service, emulator, deliverer, amount=1500)
        await _card_asking_for_3d_secure(emulator, subscription)
        tier = await _tier(emulator, group, amount=4500)
        me, path = user_token(user), f"/members/{user}/memberships/{group}"

        waiting = await _post(service, f"{path}/switch", me, {"tier_id": tier})

        assert waiting.status_code == 200, waiting.text
        body = waiting.json()
        assert body["switch_status"] == "requires_payment"
        assert body["client_secret"].startswith("pi_") and "_secret_" in body["client_secret"]
        assert body["tier_id"] == "gold" and body["invoice_id"].startswith("in_")
        intent_id = body["client_secret"].split("_secret_")[0]
        intent = await emulator.client.v1.payment_intents.retrieve_async(intent_id)
        assert intent.status == "requires_action" and 2990 <= intent.amount <= 3000
        again = await _post(service, f"{path}/switch", me, {"tier_id": tier})
        assert again.json()["client_secret"] == body["client_secret"]  # the same payment
        await deliverer.forward()
        await service.settle()
        assert (await service.gate(user, group))["tier_id"] == "gold"

        await emulator.control(
            "POST", f"/payment_intents/{intent_id}/authenticate", {"outcome": outcome}
        )
        await deliverer.forward()
        await service.settle()

        view = (await service.http.get(path, headers=bearer(ADMIN))).json()
        assert view["tier_id"] == (tier if tier_after == "new" else "gold")
        assert (await service.gate(user, group))["tier_id"] == view["tier_id"]
        assert view["active"] is True
        expected = ["membership.activated"]
        expected += ["membership.tier_changed"] if tier_after == "new" else []
        assert await service.event_types(user) == expected


async def test_a_card_that_pays_switches_at_once(
    membership_service: ServiceFactory, emulator: Emulator, deliverer: EmulatorEvents
) -> None:
    async with membership_service(membership_proration_behavior="always_invoice") as service:
        user, group, _ = await _joined(service, emulator, deliverer)
        tier = await _tier(emulator, group, amount=4500)
        path = f"/members/{user}/memberships/{group}"

        switched = (
            await _post(service, f"{path}/switch", user_token(user), {"tier_id": tier})
        ).json()

        assert (switched["switch_status"], switched["tier_id"]) == ("switched", tier)
        assert switched["client_secret"] is None
        unchanged = (await _post(service, f"{path}/switch", ADMIN, {"tier_id": tier})).json()
        assert unchanged["switch_status"] == "unchanged"
