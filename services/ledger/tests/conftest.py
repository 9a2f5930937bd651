"""A running ledger (real Postgres, NATS, Stripe emulator), a driver for Stripe scenarios, and
the tokens and booked payments its tests start from."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe
from nats.js import JetStreamContext
from sqlalchemy import text

from ledger.config import Settings
from ledger.main import MIGRATIONS, create_app
from tollgate_shared.infra.stripe_client import make_stripe_client
from tollgate_shared.persistence.db import make_engine
from tollgate_shared.testing import StripeWorld, serve_app, unique, wait_until
from tollgate_shared.web.auth import issue_token

SECRET = "ledger-test-secret-0123456789abcdef0123"
PAGES = "GET /v1/balance_transactions"
"""The fee task's request: the only one a member's payments cost the ledger."""


def token(
    *, sub: str = "admin_1", roles: tuple[str, ...] = ("admin",), groups: tuple[str, ...] = ()
) -> str:
    return issue_token(SECRET, sub=sub, roles=list(roles), groups=list(groups))


def auth(**claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(**claims)}"}


async def fee_booked(ledger: httpx.AsyncClient, charge: str) -> dict[str, Any]:
    """The payment of `charge` once it is booked with its fee (the fee task's)."""

    async def booked() -> dict[str, Any] | None:
        answer = await ledger.get(f"/payments/{charge}", headers=auth())
        detail: dict[str, Any] = answer.json() if answer.status_code == 200 else {}
        return detail if detail.get("fee") is not None else None

    return await wait_until(booked, message="payment and fee booked")


async def stripe_usage(world: StripeWorld, settings: Settings) -> dict[str, int]:
    """The ledger's requests to the emulator so far, per endpoint."""
    answer = await world.http.get(
        f"{world.emulator_url}/_emulator/usage", params={"api_key": settings.stripe_secret_key}
    )
    endpoints: dict[str, int] = answer.json()["endpoints"]
    return endpoints


async def parts_left(settings: Settings, names: Sequence[str]) -> int:
    """How many pending parts are kept under or name any of `names`."""
    engine = make_engine(settings.sqlalchemy_url, pool_size=1)
    async with engine.connect() as conn:
        found = await conn.execute(
            text("SELECT count(*) FROM payment_parts WHERE key = ANY(:n) OR partner = ANY(:n)"),
            {"n": list(names)},
        )
        left = int(found.scalar_one())
    await engine.dispose()
    return left


async def booked_payment(
    world: StripeWorld, ledger: httpx.AsyncClient, amount: int, group: str
) -> str:
    """A member's payment to `group`, paid on the emulator and booked by `ledger` with its fee;
    its charge."""
    paid = await world.checkout(await world.price(amount), group_id=group, user_id=unique("u"))
    charge = await world.charge_of_intent(paid["payment_intent"])
    await world.forward()
    await fee_booked(ledger, charge)
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


@pytest.fixture(scope="session")
def ledger_url(migrated_database: Callable[[Path], str]) -> str:
    return migrated_database(MIGRATIONS)


@pytest.fixture(scope="session")
def settings(nats_url: str, ledger_url: str, stripe_emulator_url: str) -> Settings:
    return Settings(
        service_name="ledger",
        nats_url=nats_url,
        service_database_url=ledger_url,
        stripe_api_base=stripe_emulator_url,
        auth_jwt_secret=SECRET,
        ledger_fee_interval_seconds=0.2,
    )


@pytest.fixture(scope="session")
async def ledger(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The ledger service, running, and an HTTP client on it."""
    async with serve_app(create_app(settings)) as base, httpx.AsyncClient(base_url=base) as client:
        yield client


@pytest.fixture
async def world(
    stripe_emulator_url: str, js: JetStreamContext, settings: Settings
) -> AsyncIterator[StripeWorld]:
    async with httpx.AsyncClient() as http:
        world = StripeWorld(stripe_emulator_url, js, make_stripe_client(settings), http)
        await world.take()
        yield world


@pytest.fixture
async def members(stripe_emulator_url: str, js: JetStreamContext) -> AsyncIterator[StripeWorld]:
    """Members and Stripe on an API key of their own: the emulator counts the ledger's
    requests apart from theirs."""
    client = stripe.StripeClient(
        unique("sk_test_members"),
        base_addresses={"api": stripe_emulator_url},
        http_client=stripe.HTTPXClient(),
    )
    async with httpx.AsyncClient() as http:
        world = StripeWorld(stripe_emulator_url, js, client, http)
        await world.take()
        yield world
