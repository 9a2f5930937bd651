"""A running ledger (real Postgres, NATS, Stripe emulator), a driver for Stripe scenarios, and
the tokens and booked payments its tests start from."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe
from nats.js import JetStreamContext
from sqlalchemy import text

from ledger import bootstrap
from ledger.config import Settings
from ledger.main import MIGRATIONS, create_app
from ledger.service_layer import Deps
from tollgate_shared.infra.service import Service
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


HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')


def hidden_fields(html: str) -> dict[str, str]:
    """The hidden inputs of a console page's forms (the last of each name)."""
    return dict(HIDDEN.findall(html))


@asynccontextmanager
async def browser(ledger: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """A client with a cookie jar of its own, as one browser has."""
    async with httpx.AsyncClient(base_url=ledger.base_url, timeout=30) as client:
        yield client


async def sign_in(client: httpx.AsyncClient, bearer: str) -> None:
    """Sign in to the console through its login form as a browser would."""
    form = await client.get("/console/login")
    csrf = hidden_fields(form.text)["csrf_token"]
    answer = await client.post("/console/login", data={"token": bearer, "csrf_token": csrf})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/console"


@dataclass(frozen=True)
class BusyGroup:
    """A group with something on every console page: payments in two currencies (one lost to
    a dispute, one with an early fraud warning and a review), a declined card, a failed 3-D
    Secure challenge and a failed renewal."""

    group: str
    paid: str
    """A USD charge with the warning and the review."""
    disputed: str
    yen: str
    """A JPY charge (1,500 yen)."""
    yen_payer: str


async def busy_group(world: StripeWorld, ledger: httpx.AsyncClient) -> BusyGroup:
    """Make a `BusyGroup` at the emulator and wait until the ledger has it all."""
    group, yen_payer = unique("grp"), unique("u_yen")
    paid = await booked_payment(world, ledger, 500, group)
    disputed = await booked_payment(world, ledger, 2000, group)
    await world.control(f"charges/{disputed}/dispute", {"reason": "fraudulent"})
    warning = {"fraud_type": "card_never_received"}
    await world.control(f"charges/{paid}/early_fraud_warning", warning)
    await world.control(f"charges/{paid}/review", {"reason": "rule"})
    yen = await world.checkout(await world.price(1500, "jpy"), group_id=group, user_id=yen_payer)
    intent = await world.purchase_intent(1200, group_id=group, user_id=unique("u_declined"))
    assert await world.confirm(intent, "pm_card_chargeDeclined") == "requires_payment_method"
    assert await world.confirm(intent, "pm_card_authenticationRequired") == "requires_action"
    await world.authenticate(intent, succeed=False)
    member = await world.checkout(
        await world.price(900, monthly=True),
        group_id=group,
        user_id=unique("u_renewal"),
        subscription=True,
    )
    await world.control(
        f"subscriptions/{member['subscription']}/advance", {"card_number": "4000000000000002"}
    )
    await world.forward()

    async def settled() -> bool:
        payments = await ledger.get(f"/payments?group_id={group}", headers=auth())
        risk = await ledger.get(f"/groups/{group}/risk", headers=auth())
        booked = [p for p in payments.json()["data"] if p["fee"] is not None]
        found = risk.json()
        return len(booked) == 4 and len(found["disputes"]) == 1 and len(found["risk"]) == 2

    await wait_until(settled, message="the busy group booked", timeout=30)
    yen_charge = await world.charge_of_intent(yen["payment_intent"])
    return BusyGroup(group, paid, disputed, yen_charge, yen_payer)


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
        # Payout schedules are run by the replicas `test_scheduled_payouts.py` starts.
        ledger_payout_schedule_interval_seconds=3600.0,
    )


@pytest.fixture(scope="session")
async def ledger(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The ledger service, running, and an HTTP client on it."""
    async with (
        serve_app(create_app(settings)) as base,
        httpx.AsyncClient(base_url=base, timeout=30) as client,
    ):
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


@pytest.fixture
def own_database(migrated_database: Callable[[Path], str]) -> str:
    """A ledger database of this test's own: the session's running ledger never touches the
    rows it locks and counts."""
    return migrated_database(MIGRATIONS)


@pytest.fixture
async def service(settings: Settings, own_database: str) -> AsyncIterator[Service[Settings, Deps]]:
    """The ledger as its bootstrap builds it, on `own_database` (not started)."""
    built = bootstrap.build(settings.model_copy(update={"service_database_url": own_database}))
    yield built
    assert built.runtime.engine is not None
    await built.runtime.engine.dispose()
