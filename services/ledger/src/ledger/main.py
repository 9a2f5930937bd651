"""App factory and command line of the ledger service."""

from __future__ import annotations

import sys
from pathlib import Path

from fastapi import FastAPI

from ledger.bootstrap import build
from ledger.config import Settings, load_settings
from ledger.entrypoints import cli as commands
from ledger.entrypoints import console
from tollgate_shared.infra.settings import ServiceSettings
from tollgate_shared.web.service import ServiceCli, service_app

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """HTTP API, console, STRIPE consumer and outbox relay in one process."""
    app = service_app(build(settings if isinstance(settings, Settings) else load_settings()))
    console.install(app)  # the console's errors as HTML pages, once every handler is there
    return app


cli = ServiceCli(
    name="ledger", load_settings=load_settings, create_app=create_app, migrations=MIGRATIONS
)


def main() -> None:
    """`ledger serve` / `migrate` / `reconcile` / `schedule-payouts`."""
    argv = sys.argv[1:]
    if argv and argv[0] in commands.COMMANDS:
        sys.exit(commands.run(argv))
    cli.main(argv)
