"""One checkout service (real uvicorn, Postgres, NATS, Stripe emulator) for the whole module run.

Tests isolate themselves with unique group and user ids instead of fresh databases.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from checkout.config import Settings
from checkout.main import MIGRATIONS, create_app
from tollgate_shared.contracts.membership import MembershipActivated, MembershipCanceled
from tollgate_shared.infra.settings import DEV_JWT_SECRET
from tollgate_shared.infra.stripe_client import make_stripe_client
from tollgate_shared.messaging.streams import DOMAIN, STRIPE
from tollgate_shared.testing import (
    EmulatorEvents,
    consumer_idle,
    publish_domain_event,
    serve_app,
    unique,
    wait_until,
)
from tollgate_shared.web.auth import issue_token

APP_ORIGIN = "https://app.example.com"
PAID_CARD = "4242424242424242"


def auth(
    user_id: str | None = None,
    *,
    roles: list[str] | None = None,
    groups: list[str] | None = None,
    **claims: object,
) -> dict[str, str]:
    """Bearer headers for a user (a new one unless `user_id` is given)."""
    token = issue_token(
        DEV_JWT_SECRET,
        sub=user_id or unique("user"),
        email="member@example.com",
        roles=roles,
        groups=groups,
        **claims,
    )
    return {"Authorization": f"Bearer {token}"}


def organizer(group_id: str) -> dict[str, str]:
    """Headers of an organizer of `group_id`."""
    return auth(roles=["organizer"], groups=[group_id])


@pytest.fixture(scope="session")
def settings(
    nats_url: str, migrated_database: Callable[[Path], str], stripe_emulator_url: str
) -> Settings:
    return Settings(
        service_name="checkout",
        nats_url=nats_url,
        service_database_url=migrated_database(MIGRATIONS),
        stripe_api_base=stripe_emulator_url,
        checkout_allowed_origins=APP_ORIGIN,
    )


@pytest.fixture(scope="session")
async def service_url(settings: Settings) -> AsyncIterator[str]:
    async with serve_app(create_app(settings)) as url:
        yield url


@pytest.fixture
async def api(service_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=service_url, timeout=30) as client:
        yield client


@pytest.fixture
async def emulator(stripe_emulator_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stripe_emulator_url, timeout=30) as client:
        yield client


@pytest.fixture
async def stripe_events(stripe_emulator_url: str, js: JetStreamContext) -> EmulatorEvents:
    """The emulator's events of this test, forwarded on request as the webhook gateway would."""
    events = EmulatorEvents(stripe_emulator_url, js)
    await events.take()
    return events


@pytest.fixture(scope="session")
def stripe_client(settings: Settings) -> stripe.StripeClient:
    return make_stripe_client(settings)


async def create_tier(api: httpx.AsyncClient, group_id: str, **fields: Any) -> dict[str, Any]:
    """A tier created by the group's organizer (monthly 20.00 NZD unless told otherwise)."""
    body = {"name": "Supporter", "amount": 2000, "currency": "nzd", "interval": "month"} | fields
    response = await api.post(f"/groups/{group_id}/tiers", json=body, headers=organizer(group_id))
    assert response.status_code == 201, response.text
    return response.json()


async def buy(api: httpx.AsyncClient, tier_id: str, user_id: str | None = None) -> httpx.Response:
    """Start a Checkout Session for the tier, as a member (a new one unless `user_id` is given)."""
    return await api.post("/checkout/sessions", json={"tier_id": tier_id}, headers=auth(user_id))


async def create_item(api: httpx.AsyncClient, group_id: str, **fields: Any) -> dict[str, Any]:
    """A one-off item created by the group's organizer (12.00 NZD unless told otherwise)."""
    body = {"name": "Event creation fee", "amount": 1200, "currency": "nzd"} | fields
    response = await api.post(f"/groups/{group_id}/items", json=body, headers=organizer(group_id))
    assert response.status_code == 201, response.text
    return response.json()


async def create_coupon(api: httpx.AsyncClient, group_id: str, **fields: Any) -> dict[str, Any]:
    """A coupon created by the group's organizer (50% off with a fresh code unless told)."""
    body = {"code": unique("spring"), "percent_off": 50} | fields
    response = await api.post(f"/groups/{group_id}/coupons", json=body, headers=organizer(group_id))
    assert response.status_code == 201, response.text
    return response.json()


async def complete(emulator: httpx.AsyncClient, session_id: str, **body: Any) -> dict[str, Any]:
    """Pay a Checkout Session with a test card, as a buyer would."""
    response = await emulator.post(
        f"/_emulator/checkout/sessions/{session_id}/complete",
        json={"card_number": PAID_CARD} | body,
    )
    assert response.status_code == 200, response.text
    return response.json()


async def domain_event(js: JetStreamContext, subject: str, **expected: Any) -> dict[str, Any]:
    """Wait for the newest event on `subject` to match `expected`, and return it."""

    async def newest() -> dict[str, Any] | None:
        try:
            message = await js.get_last_msg(DOMAIN.name, subject)
        except Exception:
            return None
        data: dict[str, Any] = json.loads(message.data)
        return data if all(data.get(k) == v for k, v in expected.items()) else None

    found: dict[str, Any] = await wait_until(newest, message=f"{subject} {expected}")
    return found


async def domain_events(
    js: JetStreamContext, subject: str, **expected: Any
) -> list[dict[str, Any]]:
    """Every event stored on `subject` that matches `expected`, oldest first."""
    found: list[dict[str, Any]] = []
    seq = 1
    while True:
        try:
            message = await js.get_msg(DOMAIN.name, seq, subject=subject, next=True)
        except NotFoundError:
            return found
        data = json.loads(message.data or b"{}")
        if all(data.get(k) == v for k, v in expected.items()):
            found.append(data)
        seq = (message.seq or seq) + 1


async def consumed(js: JetStreamContext, stream: str) -> None:
    """Wait until checkout's durable consumer on `stream` has processed everything stored."""

    await wait_until(
        lambda: consumer_idle(js, stream, "checkout"), message=f"checkout consumed {stream}"
    )


async def known_in_group(js: JetStreamContext, user_id: str, group_id: str, tier_id: str) -> None:
    """Membership reports an earlier membership of the user in the group (ended): one trial
    per member and group, so they get none."""
    await publish_domain_event(
        js,
        MembershipCanceled(
            user_id=user_id,
            group_id=group_id,
            tier_id=tier_id,
            subscription_id="sub_" + unique("earlier"),
            reason="canceled",
        ),
    )
    await consumed(js, DOMAIN.name)


async def paid_annual_term(
    api: httpx.AsyncClient,
    emulator: httpx.AsyncClient,
    js: JetStreamContext,
    stripe_events: EmulatorEvents,
    user_id: str,
    tier: dict[str, Any],
) -> str:
    """The user buys a one-time annual tier at Checkout; checkout has it paid and membership
    reports it active. Returns the Checkout Session's id."""
    bought = await api.post(
        "/checkout/sessions", json={"tier_id": tier["id"]}, headers=auth(user_id)
    )
    assert bought.status_code == 201, bought.text
    await complete(emulator, bought.json()["session_id"])
    await stripe_events.forward()
    await consumed(js, STRIPE.name)  # checkout knows the term is paid, and when
    active = MembershipActivated(
        user_id=user_id, group_id=tier["group_id"], tier_id=tier["id"], source="one_time"
    )
    await publish_domain_event(js, active)
    await consumed(js, DOMAIN.name)
    session_id: str = bought.json()["session_id"]
    return session_id
