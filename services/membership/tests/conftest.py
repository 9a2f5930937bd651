"""A membership service on real NATS, Postgres and the Stripe emulator, and emulator helpers."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from nats.js import JetStreamContext
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from membership.adapters import orm
from membership.config import Settings
from membership.entrypoints.consumers import domain_consumer, stripe_consumer
from membership.main import MIGRATIONS, create_app
from tollgate_shared.infra.settings import DEV_JWT_SECRET, ServiceSettings
from tollgate_shared.infra.stripe_client import make_stripe_client
from tollgate_shared.messaging.streams import STRIPE
from tollgate_shared.persistence.db import make_engine
from tollgate_shared.testing import (
    EmulatorEvents,
    durable_from_now,
    serve_app,
    unique,
    wait_until,
)
from tollgate_shared.web.auth import issue_token
from webhook_gateway.config import Settings as GatewaySettings
from webhook_gateway.main import create_app as create_gateway

ADMIN = issue_token(DEV_JWT_SECRET, sub="admin-1", roles=["admin"])
SERVICE = issue_token(DEV_JWT_SECRET, sub="checkout", roles=["service"])

STRIPE_KEY = "sk_test_membership_tests"
"""Membership's own Stripe key here: the emulator counts its requests apart from the test's
and from other services' (another test's ledger books fees meanwhile)."""


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def user_token(user_id: str, **claims: Any) -> str:
    return issue_token(DEV_JWT_SECRET, sub=user_id, **claims)


@dataclass
class Service:
    """A running membership service: its app, HTTP client and database."""

    app: FastAPI
    http: httpx.AsyncClient
    engine: AsyncEngine
    js: JetStreamContext
    durable: str

    async def gate(self, user_id: str, group_id: str) -> dict[str, Any]:
        response = await self.http.get(
            f"/entitlements/{user_id}/groups/{group_id}", headers=bearer(SERVICE)
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def drained(self) -> bool:
        """Whether the consumer has processed and acked everything on the STRIPE stream that
        it handles (the server counts what is pending at the moment it is asked)."""
        info = await self.js.consumer_info(STRIPE.name, self.durable)
        return info.num_pending == 0 and info.num_ack_pending == 0

    async def settle(self) -> None:
        await wait_until(self.drained, timeout=30, message="STRIPE stream consumed")

    async def events(self, user_id: str) -> list[dict[str, Any]]:
        """The membership events queued for a user, oldest first."""
        t = orm.outbox
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(t.c.payload).order_by(t.c.id))
        payloads = [json.loads(r.payload) for r in rows]
        return [p for p in payloads if p["user_id"] == user_id]

    async def event_types(self, user_id: str) -> list[str]:
        return [e["type"] for e in await self.events(user_id)]


ServiceFactory = Callable[..., contextlib.AbstractAsyncContextManager[Service]]


@pytest.fixture
async def membership_service(
    nats_url: str,
    migrated_database: Callable[[Path], str],
    stripe_emulator_url: str,
    js: JetStreamContext,
) -> ServiceFactory:
    """Start a membership service on a fresh database. The services of a test share one
    durable of their own (one at a time), which starts after what the STRIPE stream held when
    the test began: they see the test's events, not what earlier tests left unconsumed."""
    durable = unique("membership")
    await durable_from_now(js, stripe_consumer(durable))
    await durable_from_now(js, domain_consumer(durable))

    @contextlib.asynccontextmanager
    async def start(*, fast_path: bool = True, **overrides: Any) -> AsyncIterator[Service]:
        url = migrated_database(MIGRATIONS)
        settings = Settings(
            service_name="membership",
            nats_url=nats_url,
            service_database_url=url,
            stripe_api_base=stripe_emulator_url,
            stripe_secret_key=STRIPE_KEY,
            membership_sweep_interval_seconds=0.2,
            membership_consumer=durable,
            membership_domain_consumer=durable,
            **overrides,
        )
        engine = make_engine(url, pool_size=2)
        app = create_app(settings)
        if not fast_path:
            app.fast_routes = ()
        async with (
            serve_app(app) as base,
            httpx.AsyncClient(base_url=base, timeout=30) as http,
        ):
            service = Service(app=app, http=http, engine=engine, js=js, durable=durable)
            yield service
            await service.settle()
        await engine.dispose()

    return start


class Emulator:
    """Stripe objects made through the SDK, and the emulator's test controls."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = make_stripe_client(ServiceSettings(stripe_api_base=url))
        self.controls = httpx.AsyncClient(base_url=f"{url}/_emulator", timeout=30)

    async def price(self, *, interval: str | None = "month", amount: int = 1500) -> str:
        """A price of a new product (recurring by `interval`, or one-time when None)."""
        product = await self.client.v1.products.create_async({"name": unique("tier")})
        params: dict[str, Any] = {"product": product.id, "unit_amount": amount, "currency": "eur"}
        if interval is not None:
            params["recurring"] = {"interval": interval}
        return (await self.client.v1.prices.create_async(params)).id  # type: ignore[arg-type]

    async def subscribe(
        self,
        user_id: str,
        group_id: str,
        tier_id: str,
        price: str,
        previous: str | None = None,
        customer: str | None = None,
        **extra_metadata: str,
    ) -> str:
        """Check out a subscription with the contract's metadata (for `customer` if given, as
        checkout does for a returning member; else a new customer); returns its id."""
        metadata = {
            "user_id": user_id,
            "group_id": group_id,
            "tier_id": tier_id,
            "purpose": "membership",
            "tier_interval": "month",
            **extra_metadata,
        }
        if previous is not None:
            metadata["previous_subscription_id"] = previous
        session = await self._checkout(
            user_id,
            metadata,
            mode="subscription",
            price=price,
            extra={"subscription_data": {"metadata": metadata}},
            customer=customer,
        )
        return str(session["subscription"])

    async def buy_annual(
        self,
        user_id: str,
        group_id: str,
        tier_id: str,
        price: str,
        term_days: int = 365,
        **extra_metadata: str,
    ) -> dict[str, Any]:
        """Check out a one-time annual membership; returns the completed session."""
        metadata = {
            "user_id": user_id,
            "group_id": group_id,
            "tier_id": tier_id,
            "purpose": "membership",
            "tier_interval": "one_time_annual",
            "term_days": str(term_days),
            **extra_metadata,
        }
        return await self._checkout(
            user_id,
            metadata,
            mode="payment",
            price=price,
            extra={"payment_intent_data": {"metadata": metadata}},
        )

    async def _checkout(
        self,
        user_id: str,
        metadata: dict[str, str],
        *,
        mode: str,
        price: str,
        extra: dict[str, Any],
        customer: str | None = None,
    ) -> dict[str, Any]:
        payer = {"customer": customer} if customer else {"customer_email": f"{user_id}@example.com"}
        session = await self.client.v1.checkout.sessions.create_async(
            {  # type: ignore[arg-type]
                "mode": mode,
                "line_items": [{"price": price, "quantity": 1}],
                "metadata": metadata,
                "client_reference_id": user_id,
                **payer,
                "success_url": "https://example.com/ok",
                **extra,
            }
        )
        done = await self.control("POST", f"/checkout/sessions/{session.id}/complete", {})
        assert done["outcome"] == "paid", done
        return dict(done["session"])

    async def advance(self, subscription_id: str, **body: Any) -> dict[str, Any]:
        return dict(await self.control("POST", f"/subscriptions/{subscription_id}/advance", body))

    async def control(
        self, method: str, path: str, body: Any = None, *, params: dict[str, str] | None = None
    ) -> Any:
        response = await self.controls.request(method, path, json=body, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    async def request_count(self, method: str, path: str) -> int:
        counts = await self.control("GET", "/requests")
        return sum(c["count"] for c in counts if (c["method"], c["path"]) == (method, path))


async def applied(deliverer: EmulatorEvents, service: Service) -> list[dict[str, Any]]:
    """Deliver the webhooks the emulator sent since the last delivery, and wait until the
    service has applied them; the events delivered."""
    events = await deliverer.forward()
    await service.settle()
    return events


@pytest.fixture
async def emulator(stripe_emulator_url: str) -> AsyncIterator[Emulator]:
    emulator = Emulator(stripe_emulator_url)
    yield emulator
    await emulator.controls.aclose()


@pytest.fixture
async def deliverer(stripe_emulator_url: str, js: JetStreamContext) -> EmulatorEvents:
    """Puts the emulator's events created from now on on the STRIPE stream, as the gateway would."""
    deliverer = EmulatorEvents(stripe_emulator_url, js)
    await deliverer.take()
    return deliverer


@pytest.fixture
async def webhook_gateway(nats_url: str, emulator: Emulator) -> AsyncIterator[str]:
    """The real webhook gateway, registered as the emulator's endpoint for this test only;
    yields the endpoint id."""
    secret = "whsec_" + unique("membership_test")
    settings = GatewaySettings(
        service_name="webhook-gateway", nats_url=nats_url, stripe_webhook_secret=secret
    )
    async with serve_app(create_gateway(settings)) as base:
        endpoint = await emulator.control(
            "POST", "/webhook_endpoints", {"url": f"{base}/webhooks/stripe", "secret": secret}
        )
        yield str(endpoint["id"])
        await emulator.client.v1.webhook_endpoints.delete_async(endpoint["id"])
