"""App factory and command line of the notifications service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from notifications.bootstrap import build
from notifications.config import Settings, load_settings
from notifications.entrypoints.errors import STATUS
from notifications.entrypoints.http import router
from tollgate_shared.infra.runtime import Runtime
from tollgate_shared.infra.settings import ServiceSettings
from tollgate_shared.web.service import ServiceCli, background_loops, service_app

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """HTTP API, DOMAIN and STRIPE consumers, outbox relay, sender and reminders in one process."""
    own = settings if isinstance(settings, Settings) else load_settings()
    service = build(own)

    def on_start(app: FastAPI, _: Runtime) -> None:
        app.state.service = service

    return service_app(
        own,
        service.runtime,
        title="Tollgate notifications",
        description="Receipts and payment alerts by email, exactly once per fact.",
        error_status=STATUS,
        routers=[router, background_loops(service.sender.run, service.reminders.run)],
        on_start=on_start,
    )


cli = ServiceCli(
    name="notifications",
    load_settings=load_settings,
    create_app=create_app,
    migrations=MIGRATIONS,
)


def main() -> None:
    """`notifications serve` / `notifications migrate`."""
    cli.main()
