"""`tollgate catch-up`, `backfill` and `resync` against the Stripe emulator, real JetStream and a
real membership service: each event is stored once however often they run, and the consumer
ends with the members' entitlements."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from tollgate_shared.infra.settings import ServiceSettings
from tollgate_shared.infra.stripe_client import make_stripe_client
from tollgate_shared.messaging.publish import MSG_ID
from tollgate_shared.testing import serve_app, unique, wait_until
from webhook_gateway.config import Settings as GatewaySettings
from webhook_gateway.main import create_app as create_gateway


async def tollgate(*args: str) -> str:
    """Run the `tollgate` command without blocking the services this test runs in-process."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tollgate_cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={"COLUMNS": "250", "PATH": "/usr/bin:/bin"},
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, stderr.decode()
    return stdout.decode()


async def next_second() -> datetime:
    """The start of the next whole second: `--since` it excludes objects of earlier tests."""
    start = int(time.time()) + 1
    await wait_until(lambda: time.time() >= start, message="next second")
    return datetime.fromtimestamp(start, UTC)


class Emulator:
    """Members paying through the emulator's Checkout, made with the stripe SDK."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = make_stripe_client(ServiceSettings(stripe_api_base=url))

    async def control(self, path: str, body: dict[str, Any]) -> Any:
        async with httpx.AsyncClient(base_url=f"{self.url}/_emulator", timeout=30) as http:
            response = await http.post(path, json=body)
        assert response.status_code == 200, response.text
        return response.json()

    async def pay(self, user: str, group: str, *, interval: str | None) -> dict[str, Any]:
        """A member pays a monthly subscription, or (`interval=None`) a one-time annual term."""
        product = await self.client.v1.products.create_async({"name": unique("tier")})
        price: dict[str, Any] = {"product": product.id, "unit_amount": 1500, "currency": "eur"}
        if interval:
            price["recurring"] = {"interval": interval}
        price_id = (await self.client.v1.prices.create_async(price)).id  # type: ignore[arg-type]
        metadata = {
            "user_id": user,
            "group_id": group,
            "tier_id": unique("tier"),
            "purpose": "membership",
            "tier_interval": interval or "one_time_annual",
        }
        carrier = "subscription_data" if interval else "payment_intent_data"
        session = await self.client.v1.checkout.sessions.create_async(
            {  # type: ignore[arg-type]
                "mode": "subscription" if interval else "payment",
                "line_items": [{"price": price_id, "quantity": 1}],
                "metadata": metadata,
                "client_reference_id": user,
                "customer_email": f"{user}@example.com",
                "success_url": "https://example.com/ok",
                carrier: {"metadata": metadata},
            }
        )
        done = await self.control(f"/checkout/sessions/{session.id}/complete", {})
        assert done["outcome"] == "paid", done
        return dict(done["session"])


@pytest.fixture
def emulator(stripe_emulator_url: str) -> Emulator:
    return Emulator(stripe_emulator_url)


@contextlib.asynccontextmanager
async def failing_webhooks(emulator: Emulator) -> AsyncIterator[None]:
    """An endpoint answering 500 receives (and fails) every event until the block ends."""
    app = FastAPI()
    app.post("/hook")(lambda: PlainTextResponse("down", status_code=500))
    async with serve_app(app) as base:
        endpoint = await emulator.control(
            "/webhook_endpoints", {"url": f"{base}/hook", "secret": "whsec_" + unique("x")}
        )
        try:
            yield
        finally:
            await emulator.client.v1.webhook_endpoints.delete_async(endpoint["id"])


async def stored_ids(js: JetStreamContext, since: datetime) -> Counter[str]:
    """How often each Msg-Id is on the STRIPE stream among messages stored since `since`."""
    sub = await js.pull_subscribe(
        "stripe.>",
        stream="STRIPE",
        config=ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_TIME,
            opt_start_time=since,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=30,
        ),
    )
    try:
        remaining = (await sub.consumer_info()).num_pending
        ids: Counter[str] = Counter()
        while remaining:
            batch = await sub.fetch(min(remaining, 256), timeout=5)
            ids.update((msg.headers or {}).get(MSG_ID, "") for msg in batch)
            remaining -= len(batch)
        return ids
    finally:
        await sub.unsubscribe()


async def test_catch_up_stores_undelivered_events_once_and_members_get_access(
    emulator: Emulator, nats_url: str, js: JetStreamContext, membership: Any
) -> None:
    user, group = unique("u"), unique("g")
    async with failing_webhooks(emulator):
        since = await next_second()
        await emulator.pay(user, group, interval="month")
    undelivered = [
        e.id
        async for e in (
            await emulator.client.v1.events.list_async(
                {"delivery_success": False, "created": {"gte": int(since.timestamp())}}
            )
        ).auto_paging_iter()
    ]
    assert "checkout.session.completed" in {
        (await emulator.client.v1.events.retrieve_async(i)).type for i in undelivered
    }
    n = len(undelivered)
    args = ["--since", since.isoformat(), "--stripe-api-base", emulator.url, "--nats-url", nats_url]

    assert f"{n} events, {n} stored, 0 already" in await tollgate("catch-up", *args)
    assert f"{n} events, 0 stored, {n} already" in await tollgate("catch-up", *args)

    stored = await stored_ids(js, since)
    assert {i: stored[i] for i in undelivered} == dict.fromkeys(undelivered, 1)
    async with membership() as active:
        await wait_until(lambda: active(user, group), message="member has access")


async def test_backfill_imports_paying_members_once(
    emulator: Emulator, nats_url: str, js: JetStreamContext, membership: Any
) -> None:
    since = await next_second()
    monthly, annual = (unique("u"), unique("g")), (unique("u"), unique("g"))
    await emulator.pay(*monthly, interval="month")
    await emulator.pay(*annual, interval=None)
    args = ["--since", since.isoformat(), "--stripe-api-base", emulator.url, "--nats-url", nats_url]

    first = await tollgate("backfill", *args)
    # customers, subscription, sessions, invoice and charges: one event each, all new
    for resource, count in [
        ("customers", 2),
        ("subscriptions", 1),
        ("checkout.sessions", 2),
        ("invoices", 1),
        ("charges", 2),
    ]:
        assert f"backfill {resource}: {count} events, {count} stored, 0 already" in first
    second = await tollgate("backfill", *args)
    assert "backfill charges: 2 events, 0 stored, 2 already" in second
    assert " stored, 0 already" not in second

    stored = await stored_ids(js, since)
    backfilled = {i: n for i, n in stored.items() if i.startswith("evt_backfill_")}
    assert len(backfilled) == 8 and set(backfilled.values()) == {1}
    async with membership() as active:
        await wait_until(lambda: active(*monthly), message="subscriber has access")
        await wait_until(lambda: active(*annual), message="annual member has access")


async def test_resync_through_the_gateway_applies_the_current_state(
    emulator: Emulator, nats_url: str, membership: Any
) -> None:
    user, group = unique("u"), unique("g")
    session = await emulator.pay(user, group, interval="month")
    subscription = str(session["subscription"])
    secret = "whsec_" + unique("resync")
    gateway = GatewaySettings(
        service_name="webhook-gateway", nats_url=nats_url, stripe_webhook_secret=secret
    )
    async with serve_app(create_gateway(gateway)) as gateway_url, membership() as active:
        args = ["--stripe-api-base", emulator.url, "--gateway-url", gateway_url]
        resync = ("resync", subscription, *args, "--webhook-secret", secret)

        output = await tollgate(*resync)
        assert "customer.subscription.updated evt_resync_" in output and "stored=True" in output
        await wait_until(lambda: active(user, group), message="subscriber has access")

        await emulator.client.v1.subscriptions.cancel_async(subscription)
        output = await tollgate(*resync)
        assert "customer.subscription.deleted evt_resync_" in output and "stored=True" in output
        await wait_until(
            lambda: _not(active(user, group)), message="access ends with the subscription"
        )


async def _not(value: Any) -> bool:
    return not await value
