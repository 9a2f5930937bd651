import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext

from membership.config import Settings as MembershipSettings
from membership.main import MIGRATIONS
from membership.main import create_app as create_membership
from tollgate_shared.infra.settings import DEV_JWT_SECRET
from tollgate_shared.testing import consumer_idle, serve_app, wait_until
from tollgate_shared.web.auth import issue_token

SERVICE_TOKEN = issue_token(DEV_JWT_SECRET, sub="checkout", roles=["service"])

Gate = Callable[[str, str], Any]


@pytest.fixture(scope="module")
def nats_url(isolated_nats_url: str) -> str:
    """These tests run services' durable consumers and read whole streams: a NATS of their own
    keeps other suites' messages out."""
    return isolated_nats_url


@pytest.fixture
def membership(
    nats_url: str,
    migrated_database: Callable[[Path], str],
    stripe_emulator_url: str,
    js: JetStreamContext,
) -> Callable[[], contextlib.AbstractAsyncContextManager[Gate]]:
    """A membership service on a fresh database; yields its gate `(user, group) -> active`."""

    @contextlib.asynccontextmanager
    async def start() -> AsyncIterator[Gate]:
        settings = MembershipSettings(
            service_name="membership",
            nats_url=nats_url,
            service_database_url=migrated_database(MIGRATIONS),
            stripe_api_base=stripe_emulator_url,
        )
        async with (
            serve_app(create_membership(settings)) as base,
            httpx.AsyncClient(base_url=base, timeout=30) as http,
        ):

            async def active(user: str, group: str) -> bool:
                response = await http.get(
                    f"/entitlements/{user}/groups/{group}",
                    headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
                )
                assert response.status_code == 200, response.text
                return bool(response.json()["active"])

            yield active
            await wait_until(lambda: consumer_idle(js, "STRIPE", "membership"), timeout=30)

    return start
