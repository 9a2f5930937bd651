"""The FastStream NATS broker every service uses, and access to its JetStream context."""

from __future__ import annotations

import logging
from typing import Any

from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from tollgate_shared.messaging.streams import ensure_streams


def make_broker(nats_url: str, *, name: str, **connection: Any) -> NatsBroker:
    """A broker that reconnects forever, unless `connection` (nats-py's connect options)
    says otherwise; streams are declared by `connect_and_declare`."""
    reconnecting = {"max_reconnect_attempts": -1, "reconnect_time_wait": 1, "connect_timeout": 3}
    return NatsBroker(
        nats_url.split(","),
        name=f"tollgate-{name}",
        **(reconnecting | connection),
        # Stopping waits this long for the fetches being applied, so their messages are acked.
        graceful_timeout=10,
        # Its own lines go through the service's logging (format, redaction), not a handler
        # of FastStream's; per-message access lines at DEBUG.
        logger=logging.getLogger("tollgate.broker"),
        log_level=logging.DEBUG,
    )


def jetstream(broker: NatsBroker) -> JetStreamContext:
    """The connected broker's JetStream context (for publishing with ack and stream admin)."""
    stream: JetStreamContext = broker.config.connection_state.stream
    return stream


def connection(broker: NatsBroker) -> NatsClient:
    """The connected broker's nats-py client."""
    client: NatsClient = broker.config.connection_state.connection
    return client


async def connect_and_declare(broker: NatsBroker, *, replicas: int = 1) -> JetStreamContext:
    """Connect and make sure Tollgate's streams exist as declared; returns the JetStream context."""
    await broker.connect()
    js = jetstream(broker)
    await ensure_streams(js, replicas=replicas)
    return js


async def broker_ready(broker: NatsBroker) -> bool:
    """Whether the broker's connection is up and JetStream answers."""
    try:
        await jetstream(broker).account_info()
    except Exception:
        return False
    return True
