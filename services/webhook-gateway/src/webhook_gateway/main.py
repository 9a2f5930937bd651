"""App factory and command line of the webhook gateway."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from tollgate_shared.http import create_app as create_base_app
from tollgate_shared.messaging.broker import connection, jetstream
from tollgate_shared.service import ServiceCli, runtime_lifespan
from tollgate_shared.settings import ServiceSettings

from webhook_gateway.adapters.event_store import EventStore
from webhook_gateway.bootstrap import build_runtime
from webhook_gateway.config import Settings, load_settings
from webhook_gateway.entrypoints.http import router


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """The gateway's ASGI app: starts its broker connection with the app."""
    gateway_settings = settings if isinstance(settings, Settings) else load_settings()
    runtime = build_runtime(gateway_settings)
    run_runtime = runtime_lifespan(runtime)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with run_runtime(app):
            app.state.event_store = EventStore(
                connection(runtime.broker),
                jetstream(runtime.broker),
                timeout=gateway_settings.gateway_publish_timeout,
                retry_after=gateway_settings.gateway_retry_after_seconds,
            )
            yield

    app = create_base_app(
        gateway_settings,
        title="Tollgate webhook gateway",
        description="Verifies Stripe webhooks and stores each event once on JetStream.",
        lifespan=lifespan,
    )
    app.include_router(router)
    return app


cli = ServiceCli(name="webhook-gateway", load_settings=load_settings, create_app=create_app)


def main() -> None:
    """`webhook-gateway serve`."""
    cli.main()
