"""App factory and command line of the membership service."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI

from membership.bootstrap import Membership, build
from membership.config import Settings, load_settings
from membership.entrypoints import credits
from membership.entrypoints.http import router
from membership.service_layer import sweeper
from tollgate_shared.service import ServiceCli, service_app
from tollgate_shared.settings import ServiceSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """HTTP API, STRIPE consumer, outbox relay and expiry sweeper in one process."""
    own = settings if isinstance(settings, Settings) else load_settings()
    membership = build(own)
    app = service_app(
        own,
        membership.runtime,
        title="Tollgate membership",
        description="Entitlements from Stripe payments, and the membership gate.",
        routers=[router, credits.router],
    )
    _run_sweeper_with(app, membership)
    return app


def _run_sweeper_with(app: FastAPI, membership: Membership) -> None:
    """Run the sweeper inside the app's lifespan, after the runtime is up."""
    runtime_lifespan = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with runtime_lifespan(app):
            sessions = membership.runtime.sessions
            assert sessions is not None
            task = asyncio.create_task(
                sweeper.run(
                    sessions,
                    grace=membership.settings.grace,
                    interval=membership.settings.membership_sweep_interval_seconds,
                    clock=lambda: datetime.now(UTC),
                    on_change=membership.runtime.wake_relay,
                ),
                name="membership-sweeper",
            )
            try:
                yield
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app.router.lifespan_context = lifespan


cli = ServiceCli(
    name="membership", load_settings=load_settings, create_app=create_app, migrations=MIGRATIONS
)


def main() -> None:
    """`membership serve` / `membership migrate`."""
    cli.main()
