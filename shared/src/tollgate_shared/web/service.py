"""What every service's `main.py` shares: the lifespan that runs its Runtime, and its CLI
(`<service> serve` runs HTTP + consumers + outbox relay in one process, `<service> migrate`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
import uvicorn
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from tollgate_shared.infra.cli import OneLineParser, add_debug_option, load_settings, run_command
from tollgate_shared.infra.settings import ServiceSettings
from tollgate_shared.infra.tasks import cancel_and_wait
from tollgate_shared.messaging import asyncapi
from tollgate_shared.observability.logging import configure_logging
from tollgate_shared.observability.tracing import configure_tracing
from tollgate_shared.web.http import add_readiness_check, create_app
from tollgate_shared.web.http_timeouts import http_protocol

if TYPE_CHECKING:
    from tollgate_shared.infra.runtime import Runtime
    from tollgate_shared.infra.service import Service

log = structlog.get_logger(__name__)


OnStart = Callable[[FastAPI, "Runtime"], None]
Loop = Callable[[], Coroutine[Any, Any, None]]


def service_app(service: Service[Any, Any]) -> FastAPI:
    """A service's app: its runtime starts with it (then its `on_start`, then its loops) and
    stops after in-flight requests; readiness follows the broker and, if it has one, the
    database; its domain errors answer by its `error_status`; its `deps` are `app.state.deps`."""
    settings, runtime, on_start = service.settings, service.runtime, service.on_start

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.runtime = runtime
        add_readiness_check(app, "broker", runtime.broker_ready)
        if runtime.engine is not None:
            add_readiness_check(app, "database", runtime.database_ready)
        async with runtime.running():
            if on_start is not None:
                on_start(app, runtime)
            yield

    configure_tracing(settings.service_name)
    app = create_app(
        settings,
        title=service.title,
        description=service.description,
        lifespan=lifespan,
        request_spans=service.request_spans,
        fast_routes=service.fast_routes,
        error_status=service.error_status,
    )
    app.state.deps = service.deps
    app.state.asyncapi = asyncapi_document(service)
    app.include_router(asyncapi_router())
    if runtime.engine is not None:
        # The persistence extra: only a service with a database imports its answers.
        from tollgate_shared.web.database import answer_database_errors

        answer_database_errors(app)
    for router in service.routers:
        app.include_router(router)
    if service.loops:
        app.include_router(background_loops(*service.loops))
    return app


def asyncapi_document(service: Service[Any, Any]) -> Callable[[], dict[str, Any]]:
    """The service's AsyncAPI document, generated from its broker when first asked for."""

    @functools.cache
    def document() -> dict[str, Any]:
        return asyncapi.document(
            service.runtime.broker, title=service.title, description=service.description
        )

    return document


def asyncapi_router() -> APIRouter:
    """`GET /asyncapi.json`: the channels the service reads and writes (AsyncAPI 3.0)."""
    router = APIRouter()

    @router.get("/asyncapi.json", include_in_schema=False)  # a document, like /openapi.json
    async def asyncapi_json(request: Request) -> JSONResponse:
        """The service's messaging contract: subjects, payload schemas, durables, DLQ."""
        return JSONResponse(request.app.state.asyncapi())

    return router


def background_loops(*loops: Loop) -> APIRouter:
    """A router with no routes whose lifespan runs `loops` as tasks (named after them). Among
    `service_app`'s routers, they start once the runtime is up and are cancelled before it
    stops."""

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(loop(), name=loop.__qualname__) for loop in loops]
        try:
            yield
        finally:
            await cancel_and_wait(tasks)

    return APIRouter(lifespan=lifespan)


@dataclass(frozen=True)
class ServiceCli:
    """The command line of one service."""

    name: str
    load_settings: Callable[[], ServiceSettings]
    create_app: Callable[[ServiceSettings], FastAPI]
    migrations: Path | None = None

    def main(self, argv: list[str] | None = None) -> None:
        """`serve [--host H] [--port P] [--migrate]` (default), `migrate` or `asyncapi`; each
        takes `--debug`. An error is one line on stderr and a non-zero exit status."""
        parser = OneLineParser(prog=self.name, description=f"Tollgate {self.name}")
        add_debug_option(parser)
        commands = parser.add_subparsers(dest="command")
        serve = commands.add_parser("serve", help="run the HTTP API, consumers and outbox relay")
        serve.add_argument("--host")
        serve.add_argument("--port", type=int)
        serve.add_argument("--migrate", action="store_true", help="migrate the database first")
        for command in (
            serve,
            commands.add_parser("migrate", help="bring the database schema to the newest revision"),
            commands.add_parser("asyncapi", help="print the service's AsyncAPI document (JSON)"),
        ):
            add_debug_option(command)
        args = parser.parse_args(argv)
        debug = getattr(args, "debug", False)
        status = run_command(self.name, lambda: self._run(args), debug=debug)
        if status:
            sys.exit(status)

    def _run(self, args: argparse.Namespace) -> None:
        settings = load_settings(self.load_settings)
        configure_logging(
            settings.log_level,
            json=settings.log_json,
            service=self.name,
            secrets=settings.secret_values(),
        )
        if args.command == "migrate" or getattr(args, "migrate", False):
            self.migrate(settings)
            if args.command == "migrate":
                return
        app = self.create_app(settings)
        if args.command == "asyncapi":
            sys.stdout.write(asyncapi.render(app.state.asyncapi()))
            return
        # What start-up allocated lives as long as the process: out of the collector's way,
        # full collections stay short and so do the pauses they put into requests' latency.
        gc.collect()
        gc.freeze()
        uvicorn.run(
            app,
            host=getattr(args, "host", None) or settings.http_host,
            port=getattr(args, "port", None) or settings.http_port,
            http=http_protocol(settings),
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=20,
        )

    def migrate(self, settings: ServiceSettings) -> None:
        """Run this service's Alembic migrations against its database."""
        if self.migrations is None:
            return
        from tollgate_shared.persistence.migrations import upgrade  # only services with a database

        upgrade(self.migrations, settings.sqlalchemy_url)
        log.info("migrations.applied", service=self.name)
