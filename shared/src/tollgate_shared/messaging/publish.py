"""Publishing to JetStream with `Nats-Msg-Id`, waiting for the stream's ack."""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import PubAck

MSG_ID = "Nats-Msg-Id"
ORIGINAL_MSG_ID = "Tollgate-Original-Msg-Id"
"""Set on a replayed message: consumers' inboxes key on it, so a replay is processed only by
the consumers that have not processed the original."""


async def publish_with_ack(
    js: JetStreamContext,
    subject: str,
    payload: bytes,
    *,
    msg_id: str,
    stream: str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 5.0,
) -> PubAck:
    """Publish once per `msg_id`: returns the ack; `ack.duplicate` is True for a repeat.

    Raises nats' TimeoutError/NoRespondersError when the stream did not store the message.
    """
    all_headers = {**(headers or {}), MSG_ID: msg_id}
    return await js.publish(subject, payload, timeout=timeout, stream=stream, headers=all_headers)
