"""A running ledger (real Postgres, NATS, Stripe emulator) and a driver for Stripe scenarios."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from nats.js import JetStreamContext

from ledger.config import Settings
from ledger.main import MIGRATIONS, create_app
from ledger.testing import SECRET, StripeWorld
from tollgate_shared.infra.stripe_client import make_stripe_client
from tollgate_shared.testing import serve_app


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
