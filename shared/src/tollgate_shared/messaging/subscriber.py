"""Consumers as FastStream subscribers: each durable is one subscriber of the service's broker,
whose handler applies a fetch through the consumer core.

FastStream's own batch pull subscriber fetches until its batch is full or its timeout has
passed, and applies one batch at a time; `FetchSubscriber` extends it with the core's pull
loop (`pull.pull`: what the durable has ready, at once, several fetches applied side by side)
and its durable binding (`IdempotentConsumer.bind`). FastStream parses each fetch with the
service's handlers (`FetchParser`), calls the handler with the fetch's typed events, starts
and stops the subscriber with the broker, and documents it in the AsyncAPI schema: one channel
per subject the durable asks for, with the events' schema as payload.
"""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, cast

from faststream._internal.broker.registrator import Registrator
from faststream._internal.endpoint.subscriber.call_item import CallsCollection
from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsBroker, PullSub
from faststream.nats.subscriber.config import (
    NatsSubscriberConfig,
    NatsSubscriberSpecificationConfig,
)
from faststream.nats.subscriber.specification import NatsSubscriberSpecification
from faststream.nats.subscriber.usecases import BatchPullStreamSubscriber
from nats.aio.msg import Msg

from tollgate_shared.messaging.consumer import Fetch, IdempotentConsumer
from tollgate_shared.messaging.pull import Puller, pull

if TYPE_CHECKING:
    from faststream.nats.configs import NatsBrokerConfig
    from faststream.nats.publisher.usecase import LogicPublisher


_fetch: ContextVar[Fetch] = ContextVar("fetch")
"""The fetch being applied (a FastStream `Context` parameter would be resolved in a thread)."""


class FetchSubscriber(BatchPullStreamSubscriber):
    """A durable pull consumer of one stream whose handler gets what each fetch parsed."""

    def __init__(
        self, consumer: IdempotentConsumer, broker_config: NatsBrokerConfig, description: str
    ) -> None:
        spec = consumer.spec
        calls = CallsCollection[Any]()
        super().__init__(
            NatsSubscriberConfig(
                subject="",
                sub_config=consumer.config,
                extra_options={},
                no_reply=True,
                _outer_config=broker_config,
                _ack_policy=AckPolicy.MANUAL,
            ),
            NatsSubscriberSpecification(
                _outer_config=broker_config,
                calls=calls,
                specification_config=NatsSubscriberSpecificationConfig(
                    subject="",
                    queue=None,
                    filter_subjects=consumer.subjects,
                    title_=f"{spec.durable}@{spec.stream.name}",
                    description_=description,
                    include_in_schema=True,
                ),
            ),
            calls,
            stream=JStream(spec.stream.name, declare=False),
            pull_sub=PullSub(batch_size=spec.fetch_size, batch=True),
        )
        self.consumer = consumer
        self._puller: Puller | None = None
        self._stopping = asyncio.Event()

    async def _create_subscription(self) -> None:
        if self._puller is not None:
            return
        self._stopping.clear()
        self._puller = await self.consumer.bind(self.connection)
        self.add_task(self._consume_pull)

    async def _consume_pull(self) -> None:
        assert self._puller is not None
        await pull(self._puller, self.consumer.spec, self.consume, self._stopping)

    async def stop(self) -> None:
        """Stop fetching; fetches being applied are finished first (`pull`), so their
        messages are acked rather than redelivered."""
        self._stopping.set()
        await super().stop()
        self._puller = None


def declare_consumer(
    broker: NatsBroker, consumer: IdempotentConsumer, dlq: LogicPublisher, description: str
) -> FetchSubscriber:
    """Register `consumer` as a subscriber of `broker`: started with it, documented by it."""
    subscriber = FetchSubscriber(consumer, cast("NatsBrokerConfig", broker.config), description)
    Registrator.subscriber(broker, subscriber)

    async def parse(msgs: list[Msg]) -> StreamMessage[list[Msg]]:
        fetch = consumer.sort(msgs)
        _fetch.set(fetch)  # for the handler, which runs in this task after parsing
        return StreamMessage(raw_message=msgs, body=fetch)

    async def decode(message: StreamMessage[list[Msg]]) -> list[Any]:
        return [delivery.event for delivery in cast(Fetch, message.body).parsed]

    async def apply_fetch(events: list[Any]) -> None:
        await consumer.apply(_fetch.get(), subscriber.jetstream, dlq)

    # The payload FastStream documents and validates: the events the handlers take.
    apply_fetch.__annotations__["events"] = list[consumer.payload]  # type: ignore[name-defined]
    apply_fetch.__name__ = f"apply_{consumer.spec.durable}_fetch"
    apply_fetch.__doc__ = description
    subscriber.add_call(parser_=parse, decoder_=decode, dependencies_=())(apply_fetch)
    return subscriber
