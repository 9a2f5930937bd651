"""The Stripe emulator driven by tests: its events put on STRIPE as the webhook gateway would,
and payments made on it through the Stripe SDK as members and Stripe would make them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import stripe
from nats.js import JetStreamContext

from tollgate_shared.testing.core import unique
from tollgate_shared.testing.events import publish_stripe_event

if TYPE_CHECKING:
    from stripe.params import PriceCreateParams
    from stripe.params.checkout import SessionCreateParams


class EmulatorEvents:
    """The Stripe emulator's events, put on STRIPE as the webhook gateway would: each once, in
    the order the emulator created them. Call `take()` first to skip events of earlier tests."""

    def __init__(self, emulator_url: str, js: JetStreamContext) -> None:
        self.emulator_url = emulator_url
        self.js = js
        self.taken: set[str] = set()

    async def all(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """Every event the emulator created (of `event_type`, if given), oldest first."""
        params = {"type": event_type} if event_type else None
        async with httpx.AsyncClient(base_url=self.emulator_url, timeout=30) as http:
            response = await http.get("/_emulator/events", params=params)
        response.raise_for_status()
        events: list[dict[str, Any]] = response.json()
        return events

    async def pending(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """The events not taken yet (of `event_type`, if given), oldest first."""
        return [e for e in await self.all(event_type) if e["id"] not in self.taken]

    async def take(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """The pending events, from now on counted as forwarded without being published (for a
        test that publishes them itself: late, out of order, several times)."""
        events = await self.pending(event_type)
        self.taken.update(e["id"] for e in events)
        return events

    async def forward(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """Publish the pending events (of `event_type`, if given) in order; returns them."""
        events = await self.pending(event_type)
        for event in events:
            await publish_stripe_event(self.js, event)
            self.taken.add(event["id"])
        return events

    async def publish(self, events: list[dict[str, Any]], *, copy: str = "") -> None:
        """Publish `events` in the given order; a `copy` suffix on each Msg-Id makes a
        redelivery that JetStream and the inboxes have not seen."""
        for event in events:
            await publish_stripe_event(self.js, event, msg_id=event["id"] + copy)


CARD = "4242424242424242"
"""A test card the emulator pays with."""


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
        """A new price of `amount` (monthly, or paid once) on a product of its own."""
        params: PriceCreateParams = {
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
        params: SessionCreateParams = {
            "mode": "subscription" if subscription else "payment",
            "line_items": [{"price": price, "quantity": 1}],
            "metadata": metadata,
            "client_reference_id": user_id,
            "customer_email": f"{user_id}@example.com",
            "success_url": "http://127.0.0.1/ok?session={CHECKOUT_SESSION_ID}",
        }
        if subscription:
            params["subscription_data"] = {"metadata": metadata}
        else:
            params["payment_intent_data"] = {"metadata": metadata}
        session = await self.client.v1.checkout.sessions.create_async(params)
        done = await self.http.post(
            f"{self.emulator_url}/_emulator/checkout/sessions/{session.id}/complete",
            json={"card_number": CARD},
        )
        assert done.json()["outcome"] == "paid", done.text
        return dict(done.json()["session"])

    async def purchase_intent(
        self, amount: int, *, group_id: str, user_id: str, currency: str = "usd"
    ) -> str:
        """A purchase's PaymentIntent for an app's own card form, with the contract's metadata
        (as checkout's `POST /purchases/payment-intents` makes it; no redirects, so it confirms
        without a `return_url`); its id."""
        metadata = {
            "user_id": user_id,
            "group_id": group_id,
            "purpose": "purchase",
            "item_id": "item_" + group_id,
            "reference": unique("ref"),
        }
        intent = await self.client.v1.payment_intents.create_async(
            {
                "amount": amount,
                "currency": currency,
                "metadata": metadata,
                "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
            }
        )
        return intent.id

    async def incomplete_subscription(
        self, price: str, *, group_id: str, user_id: str, **metadata: str
    ) -> tuple[str, str]:
        """A member's subscription made for an app's own card form (`default_incomplete`, the
        contract's metadata and `metadata`), its first invoice open: the subscription and the
        payment intent its confirmation secret belongs to."""
        customer = await self.client.v1.customers.create_async({"email": f"{user_id}@example.com"})
        metadata = {
            "user_id": user_id,
            "group_id": group_id,
            "tier_id": "tier_" + group_id,
            "purpose": "membership",
            "tier_interval": "month",
            **metadata,
        }
        subscription = await self.client.v1.subscriptions.create_async(
            {
                "customer": customer.id,
                "items": [{"price": price}],
                "metadata": metadata,
                "payment_behavior": "default_incomplete",
                "payment_settings": {"save_default_payment_method": "on_subscription"},
                "expand": ["latest_invoice.confirmation_secret"],
            }
        )
        invoice = subscription.latest_invoice
        assert isinstance(invoice, stripe.Invoice) and invoice.confirmation_secret, invoice
        secret = invoice.confirmation_secret.client_secret
        return subscription.id, secret.split("_secret_")[0]

    async def confirm(self, payment_intent: str, payment_method: str = "pm_card_visa") -> str:
        """Confirm `payment_intent` with one of Stripe's test payment methods, as a card form
        does; its status then (a decline leaves it `requires_payment_method`)."""
        try:
            intent = await self.client.v1.payment_intents.confirm_async(
                payment_intent, {"payment_method": payment_method}
            )
        except stripe.CardError:
            return "requires_payment_method"
        return intent.status

    async def authenticate(self, payment_intent: str, *, succeed: bool = True) -> None:
        """Complete (or fail) the 3-D Secure challenge `payment_intent` waits on."""
        outcome = "succeed" if succeed else "fail"
        await self.control(f"payment_intents/{payment_intent}/authenticate", {"outcome": outcome})

    async def charge_of_intent(self, payment_intent: str) -> str:
        """The charge that paid `payment_intent`."""
        intent = await self.client.v1.payment_intents.retrieve_async(payment_intent)
        return str(intent.latest_charge)

    async def charges_of_subscription(self, subscription: str) -> list[str]:
        """The charges that paid `subscription`'s invoices."""
        charges = []
        invoices = await self.client.v1.invoices.list_async({"subscription": subscription})
        for invoice in invoices.data:
            assert invoice.id is not None
            payments = await self.client.v1.invoice_payments.list_async({"invoice": invoice.id})
            for payment in payments.data:
                charges.append(await self.charge_of_intent(payment["payment"]["payment_intent"]))
        return charges

    async def control(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST to an emulator test control (`/_emulator/<path>`)."""
        answer = await self.http.post(f"{self.emulator_url}/_emulator/{path}", json=body or {})
        assert answer.status_code == 200, answer.text
        return dict(answer.json())
