"""App factory and command line of the membership service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from membership.bootstrap import build_runtime
from membership.config import Settings, load_settings
from membership.entrypoints.http import router
from tollgate_shared.service import ServiceCli, service_app
from tollgate_shared.settings import ServiceSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """HTTP API, STRIPE consumer and outbox relay in one process."""
    own = settings if isinstance(settings, Settings) else load_settings()
    return service_app(
        own,
        build_runtime(own),
        title="Tollgate membership",
        description="Entitlements from Stripe payments, and the membership gate.",
        routers=[router],
    )


cli = ServiceCli(
    name="membership", load_settings=load_settings, create_app=create_app, migrations=MIGRATIONS
)


def main() -> None:
    """`membership serve` / `membership migrate`."""
    cli.main()
