"""The gateway's composition root: a broker (no database), and the event store on it."""

from __future__ import annotations

from fastapi import FastAPI

from tollgate_shared.infra.runtime import Runtime
from tollgate_shared.infra.service import Service
from tollgate_shared.messaging import channels
from tollgate_shared.messaging.broker import connection
from webhook_gateway.adapters.event_store import EventStore
from webhook_gateway.config import Settings
from webhook_gateway.entrypoints.errors import STATUS
from webhook_gateway.entrypoints.fast_path import WebhookFastPath
from webhook_gateway.entrypoints.http import router


def build(settings: Settings) -> Service[Settings, None]:
    """The gateway is stateless: a broker connection, and once it is up the event store on it
    (`app.state.event_store`); no dependencies besides."""
    runtime = Runtime.build(settings, with_database=False)
    stripe_events = channels.stripe_events(runtime.broker)

    def attach_event_store(app: FastAPI, runtime: Runtime) -> None:
        app.state.event_store = EventStore(
            connection(runtime.broker),
            stripe_events,
            timeout=settings.gateway_publish_timeout,
            retry_after=settings.gateway_retry_after_seconds,
        )

    return Service(
        settings=settings,
        runtime=runtime,
        deps=None,
        title="Tollgate webhook gateway",
        description="Verifies Stripe webhooks and stores each event once on JetStream.",
        error_status=STATUS,
        routers=[router],
        fast_routes=[WebhookFastPath()],
        on_start=attach_event_store,
        # Each webhook gets its own span (the root of the event's trace); a second one per
        # HTTP request would cost the hot path about a sixth of its CPU and add nothing.
        request_spans=False,
    )
