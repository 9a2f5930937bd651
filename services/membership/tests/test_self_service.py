"""Members manage their own memberships through the API against the emulator: the list says
what renews and at what price; ending at period end and resuming change Stripe and show at
once; the webhook that follows changes nothing more; ending now (organizers and admins) with a
prorated refund refunds once; others are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from nats.js import JetStreamContext

from tollgate_shared.contracts.checkout import (
    CatalogEntryChanged,
    GroupSettingsChanged,
    TierSeatsHeld,
)
from tollgate_shared.testing import EmulatorEvents, publish_domain_event, unique, wait_until

from .conftest import ADMIN, Emulator, Service, ServiceFactory, bearer, user_token


async def _joined(
    service: Service, emulator: Emulator, deliverer: EmulatorEvents, amount: int = 1500
) -> tuple[str, str, str]:
    user, group = unique("user"), unique("group")
    price = await emulator.price(amount=amount)
    subscription = await emulator.subscribe(user, group, "gold", price)
    await deliverer.forward()
    await service.settle()
    return user, group, subscription


async def _post(service: Service, path: str, token: str, body: Any = None) -> Any:
    return await service.http.post(path, json=body, headers=bearer(token))


async def test_the_list_says_what_renews_at_what_price_and_what_can_be_done(
    membership_service: ServiceFactory, emulator: Emulator, deliverer: EmulatorEvents
) -> None:
    async with membership_service() as service:
        user, group, subscription = await _joined(service, emulator, deliverer, amount=2300)
        answer = await service.http.get(
            f"/members/{user}/memberships", headers=bearer(user_token(user))
        )
        assert answer.status_code == 200, answer.text
        [found] = answer.json()["memberships"]
        assert found["group_id"] == group and found["tier_id"] == "gold"
        assert (found["status"], found["active"], found["source"]) == (
            "active",
            True,
            "subscription",
        )
        assert found["subscription_id"] == subscription
        assert found["renews"] is True and found["renews_at"] == found["current_period_end"]
        assert (found["price"]["amount"], found["price"]["currency"]) == (2300, "eur")
        assert found["price"]["interval"] == "month"
        assert found["actions"] == ["cancel_at_period_end", "switch", "cancel_now"]

        other = await service.http.get(
            f"/members/{user}/memberships", headers=bearer(user_token(unique("user")))
        )
        assert other.status_code == 403 and other.json()["error"]["code"] == "forbidden"
        foreign = user_token(unique("org"), roles=["organizer"], groups=[unique("group")])
        listed = await service.http.get(f"/members/{user}/memberships", headers=bearer(foreign))
        assert listed.status_code == 403 and listed.json()["error"]["code"] == "forbidden"
        own = user_token(unique("org"), roles=["organizer"], groups=[group])
        theirs = await service.http.get(f"/members/{user}/memberships", headers=bearer(own))
        assert [m["group_id"] for m in theirs.json()["memberships"]] == [group]


async def test_ending_at_period_end_and_resuming_show_at_once_and_once(
    membership_service: ServiceFactory, emulator: Emulator, deliverer: EmulatorEvents
) -> None:
    async with membership_service() as service:
        user, group, subscription = await _joined(service, emulator, deliverer)
        me = user_token(user)
        path = f"/members/{user}/memberships/{group}"

        ended = await _post(service, f"{path}/cancel", me)
        assert ended.status_code == 200, ended.text
        body = ended.json()
        assert (body["cancel_at_period_end"], body["active"], body["renews"]) == (True, True, False)
        assert body["expires_at"] == body["current_period_end"]
        assert body["actions"] == ["resume", "switch", "cancel_now"]
        stripe_side = await emulator.client.v1.subscriptions.retrieve_async(subscription)
        assert stripe_side.cancel_at_period_end is True
        again = await _post(service, f"{path}/cancel", me, {"at_period_end": True})
        assert again.status_code == 200 and again.json()["cancel_at_period_end"] is True

        await deliverer.forward()
        await service.settle()
        gate = await service.gate(user, group)
        assert gate["active"] is True and gate["cancel_at_period_end"] is True

        resumed = await _post(service, f"{path}/resume", me)
        assert resumed.status_code == 200, resumed.text
        assert (resumed.json()["cancel_at_period_end"], resumed.json()["renews"]) == (False, True)
        await deliverer.forward()
        await service.settle()
        assert (await service.gate(user, group))["cancel_at_period_end"] is False
        stripe_side = await emulator.client.v1.subscriptions.retrieve_async(subscription)
        assert stripe_side.cancel_at_period_end is False
        assert await service.event_types(user) == ["membership.activated"]


async def test_ending_now_is_for_organizers_and_refunds_the_unused_part_once(
    membership_service: ServiceFactory, emulator: Emulator, deliverer: EmulatorEvents
) -> None:
    async with membership_service() as service:
        user, group, subscription = await _joined(service, emulator, deliverer, amount=3000)
        path = f"/members/{user}/memberships/{group}/cancel"
        now = {"at_period_end": False, "refund": "prorated"}

        refused = await _post(service, path, user_token(user), now)
        assert refused.status_code == 403, refused.text
        bad = await _post(service, path, ADMIN, {"at_period_end": True, "refund": "prorated"})
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"

        organizer = user_token(unique("org"), roles=["organizer"], groups=[group])
        ended = await _post(service, path, organizer, now)
        assert ended.status_code == 200, ended.text
        body = ended.json()
        assert (body["status"], body["active"]) == ("canceled", False)
        refund = body["refund"]
        # A just-started month: all but a few seconds of it are unused.
        assert 2990 <= refund["amount"] <= 3000 and refund["currency"] == "eur"
        stripe_side = await emulator.client.v1.subscriptions.retrieve_async(subscription)
        assert stripe_side.status == "canceled"
        refunds = await emulator.client.v1.refunds.list_async({"limit": 100})
        mine = [
            r for r in refunds.data if r.metadata.to_dict().get("subscription_id") == subscription
        ]
        assert [r.id for r in mine] == [refund["refund_id"]]

        again = await _post(service, path, organizer, now)
        assert again.status_code == 409 and again.json()["error"]["code"] == "not_a_subscription"
        await deliverer.forward()
        await service.settle()
        assert (await service.gate(user, group))["active"] is False
        assert await service.event_types(user) == ["membership.activated", "membership.canceled"]


async def test_changes_without_a_running_subscription_are_refused_clearly(
    membership_service: ServiceFactory, emulator: Emulator, deliverer: EmulatorEvents
) -> None:
    async with membership_service() as service:
        user, group = unique("user"), unique("group")
        missing = await _post(service, f"/members/{user}/memberships/{group}/cancel", ADMIN)
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
        price = await emulator.price(interval=None)
        await emulator.buy_annual(user, group, "annual", price)
        await deliverer.forward()
        await service.settle()
        one_time = await _post(service, f"/members/{user}/memberships/{group}/resume", ADMIN)
        assert one_time.status_code == 409, one_time.text
        [listed] = (
            await service.http.get(f"/members/{user}/memberships", headers=bearer(ADMIN))
        ).json()["memberships"]
        assert (listed["source"], listed["renews"], listed["price"]) == ("one_time", False, None)
        assert listed["actions"] == []


async def _tier(
    emulator: Emulator,
    group: str,
    *,
    amount: int = 5000,
    interval: str | None = "month",
    **metadata: str,
) -> str:
    """A tier as checkout syncs it: product `tollgate_<tier>` of the group, and its price."""
    tier = unique("platinum")
    product = await emulator.client.v1.products.create_async(
        {
            "id": f"tollgate_{tier}",
            "name": "Platinum",
            "metadata": {"tollgate_id": tier, "group_id": group, **metadata},
        }
    )
    price: dict[str, Any] = {"product": product.id, "unit_amount": amount, "currency": "eur"}
    if interval is not None:
        price["recurring"] = {"interval": interval}
    await emulator.client.v1.prices.create_async(price)  # type: ignore[arg-type]
    return tier


async def test_a_switch_is_previewed_then_made_in_place_once_with_the_tiers_credits(
    membership_service: ServiceFactory, emulator: Emulator, deliverer: EmulatorEvents
) -> None:
    async with membership_service() as service:
        user, group, subscription = await _joined(service, emulator, deliverer, amount=1500)
        tier = await _tier(emulator, group, tier_interval="month", credit_allowances="booking=5")
        me, path = user_token(user), f"/members/{user}/memberships/{group}"

        preview = await service.http.get(
            f"{path}/switch-preview", params={"tier_id": tier}, headers=bearer(me)
        )
        assert preview.status_code == 200, preview.text
        plan = preview.json()
        assert (plan["proration_behavior"], plan["due_now"], plan["currency"]) == (
            "create_prorations",
            0,
            "eur",
        )
        # The next renewal: the new price, plus nearly 50.00 charged and 15.00 credited.
        assert 8480 <= plan["next_amount"] <= 8500
        assert plan["next_amount"] == sum(line["amount"] for line in plan["lines"])
        before = await emulator.request_count("POST", f"/v1/subscriptions/{subscription}")

        switched = await _post(service, f"{path}/switch", me, {"tier_id": tier})
        assert switched.status_code == 200, switched.text
        body = switched.json()
        assert (body["tier_id"], body["price"]["amount"], body["active"]) == (tier, 5000, True)
        again = await _post(service, f"{path}/switch", me, {"tier_id": tier})
        assert again.status_code == 200 and again.json()["tier_id"] == tier
        after = await emulator.request_count("POST", f"/v1/subscriptions/{subscription}")
        assert after == before + 1

        stripe_side = await emulator.client.v1.subscriptions.retrieve_async(subscription)
        assert stripe_side.metadata["tier_id"] == tier
        assert stripe_side.metadata["credit_allowances"] == "booking=5"
        await deliverer.forward()
        await service.settle()
        assert (await service.gate(user, group))["tier_id"] == tier
        assert await service.event_types(user) == [
            "membership.activated",
            "membership.tier_changed",
        ]


async def test_an_always_invoice_switch_charges_the_difference_now(
    membership_service: ServiceFactory, emulator: Emulator, deliverer: EmulatorEvents
) -> None:
    async with membership_service(membership_proration_behavior="always_invoice") as service:
        user, group, subscription = await _joined(service, emulator, deliverer, amount=1500)
        tier = await _tier(emulator, group, amount=4500)
        path = f"/members/{user}/memberships/{group}"
        plan = (
            await service.http.get(
                f"{path}/switch-preview", params={"tier_id": tier}, headers=bearer(ADMIN)
            )
        ).json()
        assert 2990 <= plan["due_now"] <= 3000 and plan["next_amount"] == 4500
        switched = await _post(service, f"{path}/switch", ADMIN, {"tier_id": tier})
        assert switched.status_code == 200, switched.text
        stripe_side = await emulator.client.v1.subscriptions.retrieve_async(subscription)
        invoice = await emulator.client.v1.invoices.retrieve_async(str(stripe_side.latest_invoice))
        assert (invoice.billing_reason, invoice.amount_paid) == (
            "subscription_update",
            plan["due_now"],
        )


async def test_switches_to_what_cannot_replace_the_price_are_refused_clearly(
    membership_service: ServiceFactory, emulator: Emulator, deliverer: EmulatorEvents
) -> None:
    async with membership_service() as service:
        user, group, _ = await _joined(service, emulator, deliverer)
        path = f"/members/{user}/memberships/{group}/switch"
        me = user_token(user)

        unknown = await _post(service, path, me, {"tier_id": unique("nothing")})
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
        foreign = await _post(service, path, me, {"tier_id": await _tier(emulator, "other")})
        assert foreign.status_code == 403 and foreign.json()["error"]["code"] == "foreign_tier"
        annual = await _tier(emulator, group, interval=None, tier_interval="one_time_annual")
        one_time = await _post(service, path, me, {"tier_id": annual})
        assert one_time.status_code == 409
        assert one_time.json()["error"]["code"] == "tier_not_switchable"
        yearly = await _post(
            service, path, me, {"tier_id": await _tier(emulator, group, interval="year")}
        )
        assert yearly.status_code == 409
        stranger = await _post(service, path, user_token(unique("user")), {"tier_id": annual})
        assert stranger.status_code == 403 and stranger.json()["error"]["code"] == "forbidden"
        bad = await _post(service, path, me, {"tier_id": "x" * 300})
        assert bad.status_code == 422
        assert await service.event_types(user) == ["membership.activated"]


async def test_the_groups_settings_decide_how_a_switch_is_billed_newest_revision_first(
    membership_service: ServiceFactory,
    emulator: Emulator,
    deliverer: EmulatorEvents,
    js: JetStreamContext,
) -> None:
    async with membership_service() as service:
        user, group, _ = await _joined(service, emulator, deliverer, amount=1500)
        tier = await _tier(emulator, group, amount=4500)

        async def preview() -> dict[str, Any]:
            answer = await service.http.get(
                f"/members/{user}/memberships/{group}/switch-preview",
                params={"tier_id": tier},
                headers=bearer(ADMIN),
            )
            assert answer.status_code == 200, answer.text
            return dict(answer.json())

        assert (await preview())["proration_behavior"] == "create_prorations"  # the default
        for revision, behavior in ((2, "always_invoice"), (1, "none"), (2, "none")):
            await publish_domain_event(
                js,
                GroupSettingsChanged(
                    group_id=group, revision=revision, name="Climbers", proration_behavior=behavior
                ),
            )
        await wait_until(
            lambda: _behavior_is(preview, "always_invoice"), message="settings applied"
        )
        await service.settle()
        plan = await preview()
        assert plan["proration_behavior"] == "always_invoice" and plan["due_now"] > 0


async def _behavior_is(preview: Any, wanted: str) -> bool:
    return bool((await preview())["proration_behavior"] == wanted)


def _capacity(group: str, tier: str, *, revision: int, capacity: int) -> CatalogEntryChanged:
    """Checkout's announcement of the tier `_tier` made, with its capacity."""
    return CatalogEntryChanged(
        group_id=group,
        revision=revision,
        entry_kind="tier",
        entry_id=tier,
        name="Platinum",
        active=True,
        amount=5000,
        currency="eur",
        interval="month",
        capacity=capacity,
    )


async def _switch_answering(service: Service, user: str, group: str, tier: str, status: int) -> Any:
    """An admin's switch of the member to `tier`, if it answers `status` (else None)."""
    answer = await _post(
        service, f"/members/{user}/memberships/{group}/switch", ADMIN, {"tier_id": tier}
    )
    return answer if answer.status_code == status else None


async def test_a_switch_into_a_full_tier_is_refused(
    membership_service: ServiceFactory,
    emulator: Emulator,
    deliverer: EmulatorEvents,
    js: JetStreamContext,
) -> None:
    async with membership_service() as service:
        user, group, _ = await _joined(service, emulator, deliverer)
        other = unique("user")
        await emulator.subscribe(other, group, "gold", await emulator.price())
        await deliverer.forward()
        await service.settle()
        tier = await _tier(emulator, group)
        full = _capacity(group, tier, revision=2, capacity=1)
        await publish_domain_event(js, full)
        # A late, older announcement without a limit changes nothing.
        await publish_domain_event(
            js, full.model_copy(update={"id": "late", "revision": 1, "capacity": None})
        )
        switched = await _post(
            service, f"/members/{user}/memberships/{group}/switch", ADMIN, {"tier_id": tier}
        )
        assert switched.status_code == 200, switched.text  # the one seat

        answer = await wait_until(
            lambda: _switch_answering(service, other, group, tier, 409),
            message="the tier's capacity applied",
        )
        assert answer.json()["error"]["code"] == "tier_full"
        await deliverer.forward()
        await service.settle()
        assert (await service.gate(other, group))["tier_id"] == "gold"


async def test_seats_unpaid_checkouts_hold_are_not_switched_into_until_they_lapse(
    membership_service: ServiceFactory,
    emulator: Emulator,
    deliverer: EmulatorEvents,
    js: JetStreamContext,
) -> None:
    async with membership_service() as service:
        user, group, _ = await _joined(service, emulator, deliverer)
        tier = await _tier(emulator, group)
        now = datetime.now(UTC)
        held = TierSeatsHeld(
            group_id=group, revision=3, tier_id=tier, held=2, held_until=now + timedelta(hours=1)
        )
        # The holds come before the tier's capacity; an older count arrives late.
        await publish_domain_event(js, held)
        await publish_domain_event(
            js, held.model_copy(update={"id": "late", "revision": 2, "held": 0})
        )
        await publish_domain_event(js, _capacity(group, tier, revision=1, capacity=2))

        answer = await wait_until(
            lambda: _switch_answering(service, user, group, tier, 409),
            message="the held seats applied",
        )
        assert answer.json()["error"]["code"] == "tier_full"

        lapsed = held.model_copy(update={"id": "lapsed", "revision": 4, "held": 1})
        await publish_domain_event(js, lapsed.model_copy(update={"held_until": now}))

        await wait_until(
            lambda: _switch_answering(service, user, group, tier, 200),
            message="the lapsed hold no longer counted",
        )
