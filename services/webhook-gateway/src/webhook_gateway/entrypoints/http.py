"""`POST /webhooks/stripe` as FastAPI documents it (OpenAPI at `/docs`).

Requests to it are answered by `fast_path.WebhookFastPath` before FastAPI's middleware and
routing; this route answers the same way the requests the fast path leaves to it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from tollgate_shared.web.errors import error_responses
from webhook_gateway.service_layer.ingest import Stored, accept, read_limited

router = APIRouter(tags=["webhooks"])

_SIGNATURE_HEADER = {
    "parameters": [
        {
            "name": "Stripe-Signature",
            "in": "header",
            "required": True,
            "schema": {"type": "string"},
            "description": "`t=<unix time>,v1=<hex HMAC-SHA256>` as Stripe sends it",
        }
    ],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"description": "Stripe's Event, exactly as Stripe signed it"},
                "example": {
                    "id": "evt_1QaBcDeFgHiJkLmN",
                    "object": "event",
                    "type": "invoice.paid",
                    "created": 1796500000,
                    "livemode": False,
                    "api_version": "2026-07-29.dahlia",
                    "data": {"object": {"id": "in_1QaBcD", "object": "invoice"}},
                    "pending_webhooks": 1,
                    "request": {"id": None, "idempotency_key": None},
                },
            }
        },
    },
}


@router.post(
    "/webhooks/stripe",
    openapi_extra=_SIGNATURE_HEADER,
    # bad or missing signature, malformed envelope; body over the limit; broker unavailable
    responses=error_responses(400, 413, 503),
)
async def receive_stripe_event(request: Request) -> Stored:
    """Receive a Stripe webhook; 200 only after JetStream confirmed it stored the event."""
    settings = request.app.state.settings
    payload = await read_limited(
        request.stream(), request.headers.get("content-length"), settings.webhook_max_body_bytes
    )
    return await accept(
        payload, request.headers.get("stripe-signature"), settings, request.app.state.event_store
    )
