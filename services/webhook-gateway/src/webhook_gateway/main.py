"""App factory and command line of the webhook gateway."""

from __future__ import annotations

from fastapi import FastAPI

from tollgate_shared.infra.runtime import Runtime
from tollgate_shared.infra.settings import ServiceSettings
from tollgate_shared.messaging.broker import connection, jetstream
from tollgate_shared.web.service import ServiceCli, service_app
from webhook_gateway.adapters.event_store import EventStore
from webhook_gateway.bootstrap import build_runtime
from webhook_gateway.config import Settings, load_settings
from webhook_gateway.entrypoints.errors import STATUS
from webhook_gateway.entrypoints.fast_path import WebhookFastPath
from webhook_gateway.entrypoints.http import router


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """The gateway's ASGI app: its broker connection starts and stops with the app."""
    gateway_settings = settings if isinstance(settings, Settings) else load_settings()

    def attach_event_store(app: FastAPI, runtime: Runtime) -> None:
        app.state.event_store = EventStore(
            connection(runtime.broker),
            jetstream(runtime.broker),
            timeout=gateway_settings.gateway_publish_timeout,
            retry_after=gateway_settings.gateway_retry_after_seconds,
        )

    app = service_app(
        gateway_settings,
        build_runtime(gateway_settings),
        title="Tollgate webhook gateway",
        description="Verifies Stripe webhooks and stores each event once on JetStream.",
        error_status=STATUS,
        routers=[router],
        on_start=attach_event_store,
        # Each webhook gets its own span (the root of the event's trace); a second one per
        # HTTP request would cost the hot path about a sixth of its CPU and add nothing.
        request_spans=False,
        fast_routes=[WebhookFastPath()],
    )
    return app


cli = ServiceCli(name="webhook-gateway", load_settings=load_settings, create_app=create_app)


def main() -> None:
    """`webhook-gateway serve`."""
    cli.main()
