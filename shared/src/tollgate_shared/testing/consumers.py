"""Tests of the consumer core: raw handlers, consumers run as a service runs them, and fetches
taken and applied side by side."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any, TypeVar

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy
from nats.js.errors import NotFoundError
from sqlalchemy import Executable, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tollgate_shared.messaging.batch import Batch
from tollgate_shared.messaging.broker import make_broker
from tollgate_shared.messaging.channels import dead_letters
from tollgate_shared.messaging.consumer import IdempotentConsumer
from tollgate_shared.messaging.dispatch import unneeded
from tollgate_shared.messaging.message import Delivery, Incoming
from tollgate_shared.messaging.streams import ConsumerSpec
from tollgate_shared.messaging.subscriber import declare_consumer
from tollgate_shared.testing.core import unique, wait_until

T = TypeVar("T")


class RawHandlers:
    """Handlers for tests of the consumer core: one `handler` for every subject the durable
    delivers (`subjects` if given), whose event is the message's `Incoming` itself, and an
    optional `prefetch` of those."""

    def __init__(
        self,
        handler: Callable[[Any, Incoming], Awaitable[None]],
        *,
        subjects: Sequence[str] = (),
        prefetch: Callable[[Any, Sequence[Incoming]], Awaitable[Collection[Any] | None]]
        | None = None,
    ) -> None:
        self._handler = handler
        self._prefetch = prefetch
        self.subjects = tuple(subjects)
        self.payload: Any = Any

    def accepts(self, subject: str) -> bool:
        """Every subject the durable delivers."""
        return True

    def parse(self, incoming: Incoming) -> Incoming:
        """The message as it is."""
        return incoming

    async def prefetch(self, uow: Any, events: Sequence[Incoming]) -> frozenset[int]:
        """The test's prefetch, if any; what it found needs nothing."""
        return await unneeded(self._prefetch, uow, events)

    async def apply(self, uow: Any, subject: str, event: Incoming) -> None:
        """The test's handler."""
        await self._handler(uow, event)


class RunningConsumers:
    """Idempotent consumers pulling for a test until `stop()`."""

    def __init__(self, stack: contextlib.AsyncExitStack) -> None:
        self._stack = stack

    @classmethod
    async def start(cls, nc: NatsClient, *consumers: IdempotentConsumer) -> RunningConsumers:
        """Start each consumer as a subscriber of a broker on `nc`'s server, as a service's
        runtime does."""
        assert nc.connected_url is not None
        broker = make_broker(nc.connected_url.geturl(), name="test-consumers")
        for consumer in consumers:
            dead = dead_letters(broker, consumer.spec.durable)
            declare_consumer(broker, consumer, dead, f"{consumer.spec.durable} (test)")
        stack = contextlib.AsyncExitStack()
        await broker.connect()
        stack.push_async_callback(broker.stop)
        await broker.start()
        return cls(stack)

    async def stop(self) -> None:
        """Stop them, letting a batch being applied finish."""
        await self._stack.aclose()


async def consumer_idle(js: JetStreamContext, stream: str, durable: str) -> bool:
    """Whether `durable` on `stream` has nothing left to deliver and nothing awaiting its ack,
    and has acked the last message stored under its filter: a message just stored may not be
    counted as pending yet."""
    info = await js.consumer_info(stream, durable)
    if info.num_pending or info.num_ack_pending:
        return False
    config = info.config
    filters = config.filter_subjects or [config.filter_subject or ">"]
    acked = info.ack_floor.stream_seq if info.ack_floor else 0
    for subject in filters:
        if acked < await _last_seq(js, stream, subject):
            return False
    return True


async def _last_seq(js: JetStreamContext, stream: str, subject: str) -> int:
    """The sequence of the last message `stream` holds under `subject` (0: none)."""
    try:
        return (await js.get_last_msg(stream, subject)).seq or 0
    except NotFoundError:
        return 0


async def durable_from_now(js: JetStreamContext, spec: ConsumerSpec) -> None:
    """Create `spec`'s durable consumer starting after what its stream holds now: a service
    given it sees what the test publishes from here on, not what earlier tests left there."""
    last = (await js.stream_info(spec.stream.name)).state.last_seq
    config = dataclasses.replace(
        spec.config(),
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
        opt_start_seq=last + 1,
    )
    await js.add_consumer(spec.stream.name, config)


async def as_fetches(
    js: JetStreamContext,
    spec: ConsumerSpec,
    publish: Callable[[T], Awaitable[None]],
    *fetches: Sequence[T],
) -> list[list[tuple[Msg, Incoming]]]:
    """Each of `fetches` published in order (by `publish`) and fetched back as one fetch of a
    durable of its own on `spec`'s stream, each message with its content (for
    `crossing_fetches`). The durable is deleted afterwards."""
    stream, durable = spec.stream.name, unique(spec.durable)
    await durable_from_now(js, dataclasses.replace(spec, durable=durable))
    taken = []
    try:
        for events in fetches:
            for event in events:
                await publish(event)
            sub = await js.pull_subscribe_bind(durable, stream=stream)
            try:
                msgs = await sub.fetch(len(events), timeout=10)
            finally:
                await sub.unsubscribe()
            taken.append([(msg, Incoming.from_msg(msg)) for msg in msgs])
    finally:
        await js.delete_consumer(stream, durable)
    return taken


_LOCK_WAITERS = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
)


def _lock_waiters(
    sessions: async_sessionmaker[AsyncSession], at_least: int
) -> Callable[[], Awaitable[bool] | bool]:
    """A condition: at least `at_least` other backends of the database wait for a lock."""

    async def waiting() -> bool:
        async with sessions() as session:
            return int(await session.scalar(_LOCK_WAITERS) or 0) >= at_least

    return waiting


async def crossing_fetches(
    consumer: IdempotentConsumer,
    sessions: async_sessionmaker[AsyncSession],
    first: Sequence[tuple[Msg, Incoming]],
    second: Sequence[tuple[Msg, Incoming]],
    *,
    hold: Executable,
) -> list[Batch]:
    """Apply two fetches side by side, the first parked midway: `hold` (an insert of a row the
    first fetch writes after its first messages, on `sessions`' database) runs in a transaction
    of the test's, left open until the first fetch waits for that row and the second fetch
    waits too, then rolled back. What each fetch came to; a fetch that failed (a deadlock)
    raises, as it does before its consumer applies its messages one by one."""
    holder = sessions()
    try:
        await holder.execute(hold)
        applying = [asyncio.create_task(consumer.applier.apply(_parsed(consumer, first)))]
        await wait_until(_lock_waiters(sessions, 1), message="the first fetch waits")
        applying.append(asyncio.create_task(consumer.applier.apply(_parsed(consumer, second))))
        await wait_until(_lock_waiters(sessions, 2), message="the second fetch waits")
    finally:
        await holder.rollback()
        await holder.close()
    return list(await asyncio.gather(*applying))


def _parsed(consumer: IdempotentConsumer, fetch: Sequence[tuple[Msg, Incoming]]) -> list[Delivery]:
    """A fetch's messages as the consumer applies them (all wanted, all parsed)."""
    sorted_ = consumer.sort([msg for msg, _ in fetch])
    assert not sorted_.unparsed and not sorted_.declined, "a message the consumer would not apply"
    return sorted_.parsed
