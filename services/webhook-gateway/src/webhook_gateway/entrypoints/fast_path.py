"""The webhook's hot path: `POST /webhooks/stripe` answered as plain ASGI, before FastAPI's
middleware, routing, dependency and response machinery, which cost the gateway more CPU per
event than verifying, validating and storing it (see bench/results)."""

from __future__ import annotations

import re

from tollgate_shared.web.fast_path import FastRequest, FastRoute
from webhook_gateway.service_layer.ingest import accept, read_limited


class WebhookFastPath(FastRoute):
    """Verify, validate and store one Stripe event; answer what was stored."""

    METHOD = "POST"
    PATH = re.compile("/webhooks/stripe")

    async def answer(self, request: FastRequest) -> bytes:
        settings = request.state.settings
        payload = await read_limited(
            request.body(), request.headers.get("content-length"), settings.webhook_max_body_bytes
        )
        stored = await accept(
            payload, request.headers.get("stripe-signature"), settings, request.state.event_store
        )
        return stored.model_dump_json().encode()
