"""Test helpers for the ledger: tokens, and a driver for Stripe scenarios on the emulator."""

from __future__ import annotations

from typing import Any

import httpx
import stripe
from nats.js import JetStreamContext

from tollgate_shared.testing import EmulatorEvents, unique, wait_until
from tollgate_shared.web.auth import issue_token

SECRET = "ledger-test-secret-0123456789abcdef0123"
CARD = "4242424242424242"


def token(
    *, sub: str = "admin_1", roles: tuple[str, ...] = ("admin",), groups: tuple[str, ...] = ()
) -> str:
    return issue_token(SECRET, sub=sub, roles=list(roles), groups=list(groups))


def auth(**claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(**claims)}"}


async def booked_payment(
    world: StripeWorld, ledger: httpx.AsyncClient, amount: int, group: str
) -> str:
    """A member's payment to `group`, paid on the emulator and booked by `ledger`; its charge."""
    paid = await world.checkout(await world.price(amount), group_id=group, user_id=unique("u"))
    charge = await world.charge_of_intent(paid["payment_intent"])
    await world.forward()

    async def booked() -> bool:
        return (await ledger.get(f"/payments/{charge}", headers=auth())).status_code == 200

    await wait_until(booked, message="payment booked")
    return charge


async def funded_group(
    world: StripeWorld, ledger: httpx.AsyncClient, *, destination: str | None = None
) -> tuple[str, int]:
    """A group with one booked payment (and, with `destination`, the connected account its
    payouts go to); returns it and its available balance."""
    group = unique("grp")
    await booked_payment(world, ledger, 10000, group)
    if destination:
        schedule = await ledger.put(
            f"/groups/{group}/payout-schedule",
            json={"interval": "manual", "currency": "usd", "destination_account": destination},
            headers=auth(),
        )
        assert schedule.status_code == 200, schedule.text
    answer = await ledger.get(f"/groups/{group}/balance?currency=usd", headers=auth())
    return group, int(answer.json()["available"])


class StripeWorld(EmulatorEvents):
    """Drives the emulator like members and Stripe would; `forward()` puts its events on
    JetStream the way the webhook gateway does."""

    def __init__(
        self, base: str, js: JetStreamContext, client: stripe.StripeClient, http: httpx.AsyncClient
    ) -> None:
        super().__init__(base, js)
        self.client = client
        self.http = http

    async def price(self, amount: int, currency: str = "usd", *, monthly: bool = False) -> str:
        params: dict[str, Any] = {
            "unit_amount": amount,
            "currency": currency,
            "product_data": {"name": unique("product")},
        }
        if monthly:
            params["recurring"] = {"interval": "month"}
        return (await self.client.v1.prices.create_async(params)).id

    async def checkout(
        self,
        price: str,
        *,
        group_id: str,
        user_id: str,
        subscription: bool = False,
        reference: str | None = None,
    ) -> dict[str, Any]:
        """A completed Checkout Session with the contract's metadata."""
        metadata = {
            "user_id": user_id,
            "group_id": group_id,
            "tier_id": "tier_" + group_id,
            "purpose": "membership" if subscription else "purchase",
            "reference": "" if subscription else reference or unique("ref"),
        }
        params: dict[str, Any] = {
            "mode": "subscription" if subscription else "payment",
            "line_items": [{"price": price, "quantity": 1}],
            "metadata": metadata,
            "client_reference_id": user_id,
            "customer_email": f"{user_id}@example.com",
            "success_url": "http://127.0.0.1/ok?session={CHECKOUT_SESSION_ID}",
        }
        params["subscription_data" if subscription else "payment_intent_data"] = {
            "metadata": metadata
        }
        session = await self.client.v1.checkout.sessions.create_async(params)
        done = await self.http.post(
            f"{self.emulator_url}/_emulator/checkout/sessions/{session.id}/complete",
            json={"card_number": CARD},
        )
        assert done.json()["outcome"] == "paid", done.text
        return dict(done.json()["session"])

    async def charge_of_intent(self, payment_intent: str) -> str:
        intent = await self.client.v1.payment_intents.retrieve_async(payment_intent)
        return str(intent.latest_charge)

    async def charges_of_subscription(self, subscription: str) -> list[str]:
        charges = []
        invoices = await self.client.v1.invoices.list_async({"subscription": subscription})
        for invoice in invoices.data:
            payments = await self.client.v1.invoice_payments.list_async({"invoice": invoice.id})
            for payment in payments.data:
                charges.append(await self.charge_of_intent(payment["payment"]["payment_intent"]))
        return charges

    async def control(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = await self.http.post(f"{self.emulator_url}/_emulator/{path}", json=body or {})
        assert answer.status_code == 200, answer.text
        return dict(answer.json())
