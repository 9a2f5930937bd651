"""The webhook's hot path as plain ASGI: `POST /webhooks/stripe` is answered here, before
FastAPI's routing, dependency and response machinery, which cost the gateway more CPU per
event than verifying, validating and storing it (see bench/results)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tollgate_shared.errors import ApiError, error_response
from webhook_gateway.service_layer.ingest import accept, read_limited

log = structlog.get_logger(__name__)
PATH = "/webhooks/stripe"
_JSON = [(b"content-type", b"application/json")]


class WebhookFastPath:
    """Middleware answering the webhook itself; everything else goes on to the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            payload = await read_limited(
                _body(receive),
                headers.get("content-length"),
                state.settings.webhook_max_body_bytes,
            )
            stored = await accept(
                payload, headers.get("stripe-signature"), state.settings, state.event_store
            )
        except ApiError as exc:
            response = error_response(
                exc.status_code, exc.code, exc.message, details=exc.details, headers=exc.headers
            )
            await response(scope, receive, send)
            return
        body = stored.model_dump_json().encode()
        headers = [*_JSON, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def _body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            return
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return
