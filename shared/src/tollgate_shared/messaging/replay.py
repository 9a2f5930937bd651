"""Replaying a stream into one service's consumer: move its durable consumer back to a time
or a sequence. The service's inbox makes the replay idempotent: what it already applied is
skipped, what it lacks (e.g. a rebuilt database) is applied again."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, ConsumerInfo, DeliverPolicy


async def rewind_consumer(
    js: JetStreamContext,
    stream: str,
    durable: str,
    *,
    since: datetime | None = None,
    sequence: int | None = None,
) -> ConsumerInfo:
    """Recreate `durable` with its own settings, delivering from `since` or `sequence` (or the
    stream's start when neither is given). Stop the service's consumers first: a consumer's
    start position cannot be changed in place."""
    if since is not None and sequence is not None:
        raise ValueError("give a time or a sequence, not both")
    current = (await js.consumer_info(stream, durable)).config
    start: dict[str, object] = {"opt_start_time": None, "opt_start_seq": None}
    if since is not None:
        start |= {"deliver_policy": DeliverPolicy.BY_START_TIME, "opt_start_time": since}
    elif sequence is not None:
        start |= {"deliver_policy": DeliverPolicy.BY_START_SEQUENCE, "opt_start_seq": sequence}
    else:
        start |= {"deliver_policy": DeliverPolicy.ALL}
    config: ConsumerConfig = dataclasses.replace(current, **start)
    await js.delete_consumer(stream, durable)
    return await js.add_consumer(stream, config=config)


async def consumer_lag(js: JetStreamContext, stream: str) -> list[ConsumerInfo]:
    """Every consumer of `stream` with its pending and unacknowledged counts."""
    return await js.consumers_info(stream)
