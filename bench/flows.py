"""Real flows through the Stripe emulator, driven with the `stripe` SDK and the emulator's test
controls, and the events Stripe sent for them (the emulator's event list): another app's on
the same account, and Tollgate's own through the checkout service."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection
from typing import Any

import httpx
import stripe

from bench.services import JWT_SECRET, Service
from tollgate_shared.web.auth import issue_token

FLOWS_KEY = "sk_test_bench_flows"
"""The flows' own API key: the emulator counts their requests apart from the services'."""
GROUPS = 20
CONCURRENCY = 16
"""Customers whose flows are driven at once while recording."""


class Emulator:
    """The emulator as the flows drive it: Stripe's API through the SDK, its test controls."""

    def __init__(self, url: str) -> None:
        self.client = stripe.StripeClient(
            FLOWS_KEY,
            base_addresses={"api": url},
            max_network_retries=0,
            http_client=stripe.HTTPXClient(),
        )
        self.http = httpx.AsyncClient(base_url=url, timeout=60)

    async def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        answer = await self.http.post(f"/_emulator{path}", json=body or {})
        answer.raise_for_status()
        return answer.json()

    async def rate_limits(self, mode: str) -> None:
        """Stripe's limits off while flows are recorded, `live` while the services are measured."""
        await self.control("/rate_limits", {"mode": mode})

    async def events(
        self, types: Collection[str], *, after: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The events of `types` newer than the event `after` (all of them if None), newest
        first, read page by page from Stripe's event list (`limit` 1: the newest only)."""
        params: dict[str, Any] = {"types[]": sorted(types), "limit": limit}
        found: list[dict[str, Any]] = []
        while True:
            answer = await self.http.get(
                "/v1/events", params=params, headers={"Authorization": f"Bearer {FLOWS_KEY}"}
            )
            answer.raise_for_status()
            page = answer.json()
            for event in page["data"]:
                if event["id"] == after:
                    return found
                found.append(event)
            if not page["has_more"] or limit == 1:
                return found
            params["starting_after"] = page["data"][-1]["id"]

    async def pay(self, session_id: str, email: str) -> dict[str, Any]:
        """Pay a Checkout Session with a good card, as on the hosted page; the session."""
        paid = await self.control(f"/checkout/sessions/{session_id}/complete", {"email": email})
        assert paid["outcome"] == "paid", paid
        session: dict[str, Any] = paid["session"]
        return session

    async def close(self) -> None:
        await self.http.aclose()


async def recorded(
    emulator: Emulator, types: Collection[str], flow: Callable[[], Awaitable[object]]
) -> list[dict[str, Any]]:
    """The events of `types` Stripe sent for `flow`, in order."""
    newest = await emulator.events(types, limit=1)
    await flow()
    events = await emulator.events(types, after=newest[0]["id"] if newest else None)
    return events[::-1]


async def each(count: int, one: Callable[[int], Awaitable[None]]) -> None:
    """`one(i)` for every i below `count`, `CONCURRENCY` at a time."""
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def limited(i: int) -> None:
        async with semaphore:
            await one(i)

    await asyncio.gather(*(limited(i) for i in range(count)))


# Another app on the same account: its objects carry its own metadata, none of Tollgate's.
FOREIGN_EMAIL = "buyer@bakery.test"


async def foreign_flows(
    emulator: Emulator, types: Collection[str]
) -> dict[str, list[dict[str, Any]]]:
    """Another app's two customer stories, recorded once each: a monthly subscription bought
    through Checkout and renewed; one bought, then its first payment refunded."""
    v1 = emulator.client.v1
    price = await v1.prices.create_async(
        {
            "unit_amount": 1200,
            "currency": "usd",
            "product_data": {"name": "Sourdough club"},
            "recurring": {"interval": "month"},
        }
    )

    async def subscribe() -> dict[str, Any]:
        session = await v1.checkout.sessions.create_async(
            {
                "mode": "subscription",
                "line_items": [{"price": price.id, "quantity": 1}],
                "customer_email": FOREIGN_EMAIL,
                "metadata": {"shop_order": "order_7F3k9Qx2"},
                "subscription_data": {"metadata": {"shop_order": "order_7F3k9Qx2"}},
                "success_url": "https://bakery.test/thanks",
            }
        )
        return await emulator.pay(session.id, FOREIGN_EMAIL)

    async def renewed() -> None:
        paid = await subscribe()
        await emulator.control(f"/subscriptions/{paid['subscription']}/advance")

    async def refunded() -> None:
        paid = await subscribe()
        [invoice] = (await v1.invoices.list_async({"subscription": paid["subscription"]})).data
        [payment] = (await v1.invoice_payments.list_async({"invoice": invoice.id})).data
        intent = payment.to_dict()["payment"]["payment_intent"]
        await v1.refunds.create_async({"payment_intent": intent, "reason": "requested_by_customer"})

    return {
        "renewed": await recorded(emulator, types, renewed),
        "refunded": await recorded(emulator, types, refunded),
    }


class Tollgate:
    """Tollgate's members, through the checkout service as the apps use it: each signs up to a
    group's monthly tier through Checkout (the session, subscription and payment carry the
    metadata checkout sets), is renewed, buys a one-off seat, and one in five has it refunded."""

    def __init__(self, emulator: Emulator, checkout: Service, members: int) -> None:
        self.emulator = emulator
        self.checkout = httpx.AsyncClient(base_url=checkout.url, timeout=60)
        self.members = members
        self.tiers: list[str] = []
        self.items: list[str] = []
        self.subscriptions: dict[int, str] = {}
        self.rounds = 0

    @staticmethod
    def user(n: int) -> str:
        return f"usr_bench_{n:04d}"

    async def catalog(self) -> None:
        """A monthly tier and a one-off item in each of `GROUPS` groups, on Stripe at once."""
        admin = {"Authorization": f"Bearer {issue_token(JWT_SECRET, sub='bench', roles=['admin'])}"}
        for k in range(GROUPS):
            tier = {"name": "Supporter", "amount": 1500, "currency": "nzd", "interval": "month"}
            item = {"name": "Workshop seat", "amount": 2500, "currency": "nzd"}
            made = []
            for path, body in (("tiers", tier), ("items", item)):
                answer = await self.checkout.post(
                    f"/groups/grp_bench_{k}/{path}", headers=admin, json=body
                )
                assert answer.status_code == 201 and answer.json()["synced"], answer.text
                made.append(answer.json()["id"])
            self.tiers.append(made[0])
            self.items.append(made[1])

    async def _session(self, n: int, body: dict[str, str]) -> dict[str, Any]:
        """A member starts a Checkout Session at checkout and pays it."""
        user = self.user(n)
        token = issue_token(JWT_SECRET, sub=user, email=f"{user}@members.test")
        while True:  # a member's browser tries again when Stripe's budget is spent (503)
            answer = await self.checkout.post(
                "/checkout/sessions", headers={"Authorization": f"Bearer {token}"}, json=body
            )
            if answer.status_code != 503:
                break
            await asyncio.sleep(float(answer.headers.get("Retry-After", "1")))
        assert answer.status_code == 201, answer.text
        session_id = answer.json()["url"].rsplit("/", 1)[-1]
        return await self.emulator.pay(session_id, f"{user}@members.test")

    async def _member(self, n: int) -> None:
        if n not in self.subscriptions:
            paid = await self._session(n, {"tier_id": self.tiers[n % GROUPS]})
            self.subscriptions[n] = paid["subscription"]
        await self.emulator.control(f"/subscriptions/{self.subscriptions[n]}/advance")
        seat = {"purpose": "purchase", "item_id": self.items[(n + 1) % GROUPS]}
        paid = await self._session(n, {**seat, "reference": f"seat-{n}-{self.rounds}"})
        if n % 5 == 0:
            await self.emulator.client.v1.refunds.create_async(
                {"payment_intent": paid["payment_intent"], "reason": "requested_by_customer"}
            )

    async def round(self, types: Collection[str]) -> list[dict[str, Any]]:
        """Every member's next round of flows (the first one signs them up); its events."""
        events = await recorded(self.emulator, types, lambda: each(self.members, self._member))
        self.rounds += 1
        return events

    async def close(self) -> None:
        await self.checkout.aclose()
