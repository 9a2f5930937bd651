"""App factory and command line of the ledger service."""

from __future__ import annotations

import sys
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import ORJSONResponse

from ledger.bootstrap import build
from ledger.config import Settings, load_settings
from ledger.domain import errors
from ledger.entrypoints import cli as commands
from ledger.entrypoints import console
from ledger.entrypoints.http import router
from tollgate_shared.errors import error_response
from tollgate_shared.service import ServiceCli, service_app
from tollgate_shared.settings import ServiceSettings

MIGRATIONS = Path(__file__).parent / "migrations"

ERROR_STATUS: dict[type[errors.LedgerError], tuple[int, str]] = {
    errors.NotFound: (404, "not_found"),
    errors.InsufficientBalance: (409, "insufficient_balance"),
    errors.InvalidState: (409, "conflict"),
    errors.AlreadyDecided: (409, "already_decided"),
    errors.IdempotencyKeyReused: (422, "idempotency_key_reused"),
    errors.StripeUnavailable: (503, "payments_unavailable"),
    errors.NotAttributable: (409, "not_attributable"),
}


async def _domain_error(_: Request, exc: Exception) -> ORJSONResponse:
    status, code = ERROR_STATUS.get(type(exc), (400, "bad_request"))
    return error_response(status, code, str(exc))


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """HTTP API, console, STRIPE consumer and outbox relay in one process."""
    own = settings if isinstance(settings, Settings) else load_settings()
    runtime, deps = build(own)
    app = service_app(
        own,
        runtime,
        title="Tollgate ledger",
        description="A balanced revenue ledger, the payments audit trail, payouts and the console.",
        routers=[router, console.router],
    )
    app.state.deps = deps
    app.add_exception_handler(errors.LedgerError, _domain_error)
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
