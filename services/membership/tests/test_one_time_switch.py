"""A one-time (annual) term bought while a subscription of the group runs replaces it: the
subscription is ended once (at its period end with the term starting then, or now with its
unused part refunded), the new tier shows at once, and the credits the member still has are
kept until the term starts — under duplicated and reversed delivery too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from membership.service_layer import sweeper
from tollgate_shared.testing import EmulatorEvents, unique

from .conftest import SERVICE, Emulator, Service, ServiceFactory, applied, bearer


async def _spend(service: Service, user: str, group: str, amount: int) -> None:
    answer = await service.http.post(
        f"/entitlements/{user}/groups/{group}/credits/booking/spend",
        json={"amount": amount, "reference": unique("booking")},
        headers=bearer(SERVICE),
    )
    assert answer.status_code == 200, answer.text


async def test_an_annual_term_ends_the_subscription_at_its_period_end_and_keeps_its_credits(
    membership_service: ServiceFactory, emulator: Emulator, deliverer: EmulatorEvents
) -> None:
    user, group = unique("user"), unique("group")
    monthly, annual = await emulator.price(), await emulator.price(interval=None, amount=15000)
    async with membership_service() as service:
        sub = await emulator.subscribe(user, group, "gold", monthly, credit_allowances="booking=5")
        events = await applied(deliverer, service)
        await _spend(service, user, group, 2)
        before = await emulator.request_count("POST", f"/v1/subscriptions/{sub}")

        await emulator.buy_annual(
            user,
            group,
            "annual",
            annual,
            previous_subscription_id=sub,
            credit_allowances="booking=20",
        )
        events += await applied(deliverer, service)
        stripe_side = await emulator.client.v1.subscriptions.retrieve_async(sub)
        assert stripe_side.cancel_at_period_end is True and stripe_side.status == "active"
        period_end = datetime.fromtimestamp(stripe_side["items"].data[0].current_period_end, UTC)

        gate = await service.gate(user, group)
        assert (gate["active"], gate["tier_id"], gate["source"]) == (True, "annual", "one_time")
        assert datetime.fromisoformat(gate["expires_at"]) == period_end + timedelta(days=365)
        assert gate["credits"] == {"booking": 3}  # the month's credits stay until it ends

        # Every event again, newest first: nothing more is asked of Stripe or changed.
        await deliverer.publish(list(reversed(events)), copy="-again")
        await service.settle()
        assert await emulator.request_count("POST", f"/v1/subscriptions/{sub}") == before + 1
        assert await service.gate(user, group) == gate
        types = await service.event_types(user)
        assert types == ["membership.activated", "membership.tier_changed"]

        # When the month ends, the term starts and brings its own credits.
        swept = await sweeper.sweep_once(
            service.app.state.deps.uow,
            grace=timedelta(days=7),
            now=period_end + timedelta(seconds=1),
        )
        assert swept >= 1
        assert (await service.gate(user, group))["credits"] == {"booking": 20}


async def test_an_annual_term_can_end_the_subscription_now_with_a_prorated_refund(
    membership_service: ServiceFactory, emulator: Emulator, deliverer: EmulatorEvents
) -> None:
    user, group = unique("user"), unique("group")
    monthly, annual = await emulator.price(amount=3000), await emulator.price(interval=None)
    async with membership_service(membership_annual_switch="now") as service:
        sub = await emulator.subscribe(user, group, "gold", monthly)
        await applied(deliverer, service)
        paid_at = datetime.now(UTC)
        await emulator.buy_annual(user, group, "annual", annual, credit_allowances="booking=20")
        await applied(deliverer, service)
        stripe_side = await emulator.client.v1.subscriptions.retrieve_async(sub)
        assert stripe_side.status == "canceled"
        refunds = await emulator.client.v1.refunds.list_async({"limit": 100})
        mine = [r for r in refunds.data if r.metadata.to_dict().get("subscription_id") == sub]
        assert len(mine) == 1 and 2990 <= mine[0].amount <= 3000
        await applied(deliverer, service)
        gate = await service.gate(user, group)
        assert (gate["active"], gate["tier_id"], gate["credits"]) == (
            True,
            "annual",
            {"booking": 20},
        )
        expires = datetime.fromisoformat(gate["expires_at"])
        assert paid_at + timedelta(days=364) < expires < paid_at + timedelta(days=366)


async def test_a_subscription_bought_during_a_paid_term_starts_when_the_term_ends(
    membership_service: ServiceFactory, emulator: Emulator, deliverer: EmulatorEvents
) -> None:
    """The reverse: the subscription trials until the term's end (what checkout asks Stripe
    for), shows its tier at once, and its credits come when the term's run out."""
    user, group = unique("user"), unique("group")
    annual, monthly = await emulator.price(interval=None), await emulator.price()
    async with membership_service() as service:
        await emulator.buy_annual(user, group, "annual", annual, credit_allowances="booking=20")
        await applied(deliverer, service)
        term_end = datetime.fromisoformat((await service.gate(user, group))["expires_at"])
        await _spend(service, user, group, 5)

        metadata = {
            "user_id": user,
            "group_id": group,
            "tier_id": "gold",
            "purpose": "membership",
            "tier_interval": "month",
            "credit_allowances": "booking=4",
        }
        session = await emulator.client.v1.checkout.sessions.create_async(
            {  # type: ignore[arg-type]
                "mode": "subscription",
                "line_items": [{"price": monthly, "quantity": 1}],
                "metadata": metadata,
                "customer_email": f"{user}@example.com",
                "subscription_data": {
                    "metadata": metadata,
                    "trial_end": int(term_end.timestamp()),
                },
                "success_url": "https://example.com/ok",
            }
        )
        await emulator.control("POST", f"/checkout/sessions/{session.id}/complete", {})
        await applied(deliverer, service)
        gate = await service.gate(user, group)
        assert (gate["tier_id"], gate["status"], gate["source"]) == (
            "gold",
            "trialing",
            "subscription",
        )
        assert gate["credits"] == {"booking": 15}  # the term's, until it ends

        await sweeper.sweep_once(
            service.app.state.deps.uow, grace=timedelta(days=7), now=term_end + timedelta(seconds=1)
        )
        assert (await service.gate(user, group))["credits"] == {"booking": 4}
