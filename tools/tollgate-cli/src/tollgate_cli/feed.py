"""Where `catch-up`, `backfill` and `resync` put Stripe events: on the STRIPE stream exactly as
the webhook gateway stores them, or through a running gateway as a signed webhook delivery.
Either way each event id is stored once, and the consumers' inboxes apply it once."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any, Protocol

import httpx
import stripe
from faststream.nats import NatsBroker

from tollgate_cli.common import public, reach_nats
from tollgate_shared.contracts.stripe import StripeEvent
from tollgate_shared.infra.cli import CommandError, describe
from tollgate_shared.messaging import channels
from tollgate_shared.messaging.broker import make_broker
from tollgate_shared.messaging.channels import Publisher
from tollgate_shared.messaging.ingest import store_stripe_event


class Feed(Protocol):
    """Stores one Stripe event; returns False when it was already stored."""

    async def __call__(self, event: dict[str, Any]) -> bool: ...


class JetStreamFeed:
    """Publishes on `stripe.<type>` with Msg-Id = event id, as the gateway does."""

    def __init__(self, stripe_events: Publisher) -> None:
        self._stripe_events = stripe_events

    async def __call__(self, event: dict[str, Any]) -> bool:
        payload = json.dumps(event).encode()
        parsed = StripeEvent.model_validate_json(payload)
        ack = await store_stripe_event(
            self._stripe_events, parsed.subject, payload, event_id=parsed.id
        )
        return not ack.duplicate


class GatewayFeed:
    """POSTs each event to the gateway's webhook endpoint, signed like Stripe signs it."""

    def __init__(self, http: httpx.AsyncClient, secret: str) -> None:
        self._http = http
        self._secret = secret

    async def __call__(self, event: dict[str, Any]) -> bool:
        body = json.dumps(event)
        signature = stripe.WebhookSignature.generate_signature_header(body, self._secret)
        try:
            response = await self._http.post(
                "/webhooks/stripe",
                content=body.encode(),
                headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
            )
        except httpx.HTTPError as exc:
            where = public(str(self._http.base_url))
            raise CommandError(f"cannot reach the gateway at {where}: {describe(exc)}") from exc
        if response.status_code != 200:
            raise CommandError(
                f"the gateway answered {response.status_code} for {event['id']}: {response.text}"
            )
        return not response.json()["duplicate"]


@contextlib.asynccontextmanager
async def open_feed(
    *, nats_url: str, gateway_url: str | None, webhook_secret: str
) -> AsyncIterator[Feed]:
    """The gateway's webhook endpoint if `gateway_url` is given, else JetStream at `nats_url`.
    `webhook_secret` may list several (rotation); deliveries are signed with the first."""
    if gateway_url is not None:
        async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as http:
            yield GatewayFeed(http, webhook_secret.split(",")[0].strip())
        return

    async def connect(options: dict[str, Any]) -> tuple[NatsBroker, Publisher]:
        broker = make_broker(nats_url, name="cli", **options)
        publisher = channels.stripe_events(broker)
        await broker.connect()
        return broker, publisher

    broker, publisher = await reach_nats(nats_url, connect)
    try:
        yield JetStreamFeed(publisher)
    finally:
        await broker.stop()
