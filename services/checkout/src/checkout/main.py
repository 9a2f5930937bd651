"""App factory and command line of the checkout service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from checkout.bootstrap import build
from checkout.config import Settings, load_settings
from tollgate_shared.infra.settings import ServiceSettings
from tollgate_shared.web.service import ServiceCli, service_app

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """HTTP API, STRIPE and DOMAIN consumers and outbox relay in one process."""
    return service_app(build(settings if isinstance(settings, Settings) else load_settings()))


cli = ServiceCli(
    name="checkout", load_settings=load_settings, create_app=create_app, migrations=MIGRATIONS
)


def main() -> None:
    """`checkout serve` / `checkout migrate`."""
    cli.main()
