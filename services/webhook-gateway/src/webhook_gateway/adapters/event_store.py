"""Storing verified events on the STRIPE stream, one copy per event id."""

from __future__ import annotations

from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from nats.js.api import PubAck

from tollgate_shared.messaging.channels import Publisher
from tollgate_shared.messaging.ingest import store_stripe_event
from webhook_gateway.domain.errors import BrokerUnavailable


class EventStore:
    """Publishes to JetStream and waits for its ack; any doubt becomes BrokerUnavailable."""

    def __init__(
        self, nc: NatsClient, stripe_events: Publisher, *, timeout: float, retry_after: int
    ) -> None:
        self._nc = nc
        self._stripe_events = stripe_events
        self._timeout = timeout
        self._retry_after = retry_after

    async def store(self, subject: str, payload: bytes, event_id: str) -> PubAck:
        """Store the raw event; returns the ack (`duplicate=True` if it was already stored)."""
        if not self._nc.is_connected:
            raise BrokerUnavailable("event store is not connected", retry_after=self._retry_after)
        try:
            return await store_stripe_event(
                self._stripe_events, subject, payload, event_id=event_id, timeout=self._timeout
            )
        except (NatsError, TimeoutError, OSError) as exc:
            raise BrokerUnavailable(
                f"event store did not confirm: {type(exc).__name__}", retry_after=self._retry_after
            ) from None
