"""One-time annual memberships: a term from payment, renewals extend, reversals end them."""

from __future__ import annotations

from datetime import datetime, timedelta

from tollgate_shared.testing import EmulatorEvents, unique

from .conftest import STRIPE_KEY, Emulator, ServiceFactory


async def dispute(emulator: Emulator, payment_intent: str, outcome: str) -> None:
    """The payment's charge disputed, and the dispute closed with `outcome`."""
    charges = await emulator.client.v1.charges.list_async({"payment_intent": payment_intent})
    opened = await emulator.control(
        "POST", f"/charges/{charges.data[0].id}/dispute", {"reason": "fraudulent"}
    )
    await emulator.control("POST", f"/disputes/{opened['id']}/close", {"outcome": outcome})


async def test_renewal_extends_and_full_refunds_take_terms_back(
    membership_service: ServiceFactory, emulator: Emulator, deliverer: EmulatorEvents
) -> None:
    user, group = unique("user"), unique("group")
    price = await emulator.price(interval=None, amount=9900)
    async with membership_service() as service:
        first = await emulator.buy_annual(user, group, "annual", price)
        await deliverer.forward()
        await service.settle()
        gate = await service.gate(user, group)
        assert (gate["active"], gate["source"], gate["tier_id"]) == (True, "one_time", "annual")
        first_end = datetime.fromisoformat(gate["expires_at"])

        second = await emulator.buy_annual(user, group, "annual", price)
        await deliverer.forward()
        await service.settle()
        gate = await service.gate(user, group)
        assert datetime.fromisoformat(gate["expires_at"]) == first_end + timedelta(days=365)

        await emulator.client.v1.refunds.create_async({"payment_intent": second["payment_intent"]})
        await deliverer.forward()
        await service.settle()
        gate = await service.gate(user, group)
        assert datetime.fromisoformat(gate["expires_at"]) == first_end

        await emulator.client.v1.refunds.create_async({"payment_intent": first["payment_intent"]})
        await deliverer.forward()
        await service.settle()
        gate = await service.gate(user, group)
        assert (gate["active"], gate["status"]) == (False, "refunded")
        events = await service.events(user)
        assert [e["type"] for e in events] == [
            "membership.activated",
            "membership.renewed",
            "membership.revoked",
        ]
        assert events[0]["source"] == "one_time" and events[0]["email"] == f"{user}@example.com"
        assert events[-1]["reason"] == "refunded"


async def test_a_lost_dispute_ends_it_and_a_won_one_does_not(
    membership_service: ServiceFactory, emulator: Emulator, deliverer: EmulatorEvents
) -> None:
    price = await emulator.price(interval=None, amount=9900)
    async with membership_service() as service:
        outcomes = {}
        for outcome in ("won", "lost"):
            user, group = unique("user"), unique("group")
            bought = await emulator.buy_annual(user, group, "annual", price)
            await dispute(emulator, bought["payment_intent"], outcome)
            await deliverer.forward()
            await service.settle()
            outcomes[outcome] = await service.gate(user, group)
        assert outcomes["won"]["active"] is True
        assert (outcomes["lost"]["active"], outcomes["lost"]["status"]) == (False, "dispute_lost")


async def test_a_refund_or_lost_dispute_before_the_purchase_ends_its_term_unread(
    membership_service: ServiceFactory, emulator: Emulator, deliverer: EmulatorEvents
) -> None:
    """The refunded charge tells from its own metadata that it paid a membership; a lost
    dispute tells nothing of its payment, so its reversal is kept until a term of that payment
    is recorded. Either, delivered before the purchase, ends the term; nothing is read."""
    price = await emulator.price(interval=None, amount=9900)
    async with membership_service() as service:
        members = {}
        for reason in ("refunded", "dispute_lost"):
            user, group = unique("user"), unique("group")
            bought = await emulator.buy_annual(user, group, "annual", price)
            intent = bought["payment_intent"]
            if reason == "refunded":
                await emulator.client.v1.refunds.create_async({"payment_intent": intent})
            else:
                await dispute(emulator, intent, "lost")
            members[reason] = (user, group)
        events = await deliverer.take()
        reversals = {"charge.refunded", "charge.dispute.closed"}
        requests = await emulator.control("GET", "/usage", params={"api_key": STRIPE_KEY})
        await deliverer.publish([e for e in events if e["type"] in reversals])
        await service.settle()
        await deliverer.publish([e for e in events if e["type"] not in reversals])
        await service.settle()
        made = await emulator.control("GET", "/usage", params={"api_key": STRIPE_KEY})
        assert made["requests"] == requests["requests"]
        for reason, member in members.items():
            gate = await service.gate(*member)
            assert (gate["active"], gate["status"]) == (False, reason)


async def test_the_keep_policy_leaves_a_refunded_term_running(
    membership_service: ServiceFactory, emulator: Emulator, deliverer: EmulatorEvents
) -> None:
    user, group = unique("user"), unique("group")
    price = await emulator.price(interval=None, amount=9900)
    async with membership_service(membership_one_time_reversal="keep") as service:
        bought = await emulator.buy_annual(user, group, "annual", price, term_days=30)
        await emulator.client.v1.refunds.create_async({"payment_intent": bought["payment_intent"]})
        await deliverer.forward()
        await service.settle()
        gate = await service.gate(user, group)
        assert gate["active"] is True
