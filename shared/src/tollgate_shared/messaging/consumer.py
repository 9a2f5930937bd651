"""Idempotent JetStream consumers: effect + inbox in one transaction, ack after commit.

A message is acked (and the ack confirmed by the server) only after its transaction commits.
A failure is nak'ed with a growing delay; after `max_deliver` deliveries, or at once for input
that can never succeed (`PermanentError`, a schema violation), the message is parked on
`dlq.<service>.<subject>` with the reason and then terminated, so nothing is silently dropped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from faststream import AckPolicy
from faststream.nats import ConsumerConfig, JStream, NatsBroker, PullSub
from faststream.nats.annotations import NatsMessage
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from opentelemetry.trace import SpanKind
from pydantic import ValidationError
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tollgate_shared.db import transaction
from tollgate_shared.messaging import dlq, inbox
from tollgate_shared.messaging.broker import jetstream
from tollgate_shared.messaging.publish import MSG_ID, ORIGINAL_MSG_ID, publish_with_ack
from tollgate_shared.messaging.streams import DLQ, ConsumerSpec, dlq_subject
from tollgate_shared.observability import metrics
from tollgate_shared.observability.tracing import continued

log = structlog.get_logger(__name__)


class PermanentError(Exception):
    """The message can never be processed as it is: park it on the DLQ without retrying."""


@dataclass(frozen=True)
class Incoming:
    """A delivered message, as handlers see it."""

    message_id: str
    subject: str
    data: bytes
    delivered: int
    stream_sequence: int

    @classmethod
    def from_msg(cls, msg: Msg) -> Incoming:
        """The id: a replay's original id, else `Nats-Msg-Id`, else the stream sequence."""
        meta = msg.metadata
        headers = msg.headers or {}
        msg_id = (
            headers.get(ORIGINAL_MSG_ID)
            or headers.get(MSG_ID)
            or f"{meta.stream}:{meta.sequence.stream}"
        )
        return cls(
            message_id=msg_id,
            subject=msg.subject,
            data=msg.data,
            delivered=meta.num_delivered,
            stream_sequence=meta.sequence.stream,
        )


Handler = Callable[[AsyncSession, Incoming], Awaitable[None]]
"""Applies a message's effect through the session; must not commit."""


class IdempotentConsumer:
    """Runs `handler` at most once per message id, whatever the deliveries.

    Messages on subjects `accepts` declines are acked without touching the database.
    """

    def __init__(
        self,
        spec: ConsumerSpec,
        sessions: async_sessionmaker[AsyncSession],
        inbox_table: Table,
        handler: Handler,
        *,
        accepts: Callable[[str], bool] | None = None,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        self.spec = spec
        self._accepts = accepts
        self._sessions = sessions
        self._inbox = inbox_table
        self._handler = handler
        self._after_commit = after_commit
        labels = (spec.stream.name, spec.durable)
        self._outcomes = {o: metrics.CONSUMER_MESSAGES.labels(*labels, o) for o in metrics.OUTCOMES}
        self._handler_seconds = metrics.HANDLER_SECONDS.labels(*labels)
        self._payments = {
            f"stripe.{t}": metrics.PAYMENT_EVENTS.labels(spec.durable, t)
            for t in metrics.PAYMENT_TYPES
        }

    async def apply(self, incoming: Incoming) -> bool:
        """Apply the message's effect once; returns False if it had already been applied."""
        async with transaction(self._sessions) as session:
            fresh = await inbox.claim(
                session,
                self._inbox,
                consumer=self.spec.durable,
                message_id=incoming.message_id,
                subject=incoming.subject,
            )
            if fresh:
                await self._handler(session, incoming)
        if fresh and self._after_commit is not None:
            self._after_commit()
        return fresh

    async def process(self, msg: Msg, js: JetStreamContext) -> None:
        """Apply, then ack; or nak with backoff; or park on the DLQ (published through `js`)."""
        incoming = Incoming.from_msg(msg)
        if incoming.delivered == 1 and incoming.subject in self._payments:
            self._payments[incoming.subject].inc()
        if self._accepts is not None and not self._accepts(incoming.subject):
            await msg.ack_sync()
            return
        bound = log.bind(
            consumer=self.spec.durable, subject=incoming.subject, message_id=incoming.message_id
        )
        try:
            with (
                continued(
                    f"consume {incoming.subject}",
                    msg.headers,
                    kind=SpanKind.CONSUMER,
                    consumer=self.spec.durable,
                    message_id=incoming.message_id,
                ),
                self._handler_seconds.time(),
            ):
                fresh = await self.apply(incoming)
        except (PermanentError, ValidationError) as exc:
            bound.warning("message.rejected", error=str(exc))
            await self._dead_letter(js, msg, incoming, exc)
            return
        except Exception as exc:
            if incoming.delivered >= self.spec.max_deliver:
                bound.error("message.exhausted", delivered=incoming.delivered, exc_info=exc)
                await self._dead_letter(js, msg, incoming, exc)
                return
            delay = self.spec.retry_delay(incoming.delivered)
            bound.warning(
                "message.retry", delivered=incoming.delivered, delay=delay, error=repr(exc)
            )
            await msg.nak(delay=delay)
            self._outcomes["retried"].inc()
            return
        await msg.ack_sync()
        self._outcomes["processed" if fresh else "duplicate"].inc()
        bound.debug("message.processed" if fresh else "message.duplicate")

    async def _dead_letter(
        self, js: JetStreamContext, msg: Msg, incoming: Incoming, exc: BaseException
    ) -> None:
        try:
            await publish_with_ack(
                js,
                dlq_subject(self.spec.durable, incoming.subject),
                incoming.data,
                msg_id=f"{self.spec.durable}:{incoming.message_id}",
                stream=DLQ.name,
                headers={
                    ORIGINAL_MSG_ID: incoming.message_id,
                    dlq.ORIGINAL_SUBJECT: incoming.subject,
                    dlq.ORIGINAL_SEQUENCE: str(incoming.stream_sequence),
                    dlq.DELIVERED: str(incoming.delivered),
                    dlq.ERROR: f"{type(exc).__name__}: {exc}"[:1000],
                },
            )
        except Exception:
            log.exception("message.dead_letter_failed", message_id=incoming.message_id)
            await msg.nak(delay=self.spec.retry_delay(incoming.delivered))
            self._outcomes["retried"].inc()
            return
        await msg.term()
        self._outcomes["dead_lettered"].inc()


def subscribe(broker: NatsBroker, consumer: IdempotentConsumer) -> None:
    """Register `consumer` as a durable pull subscriber on the broker (before it starts)."""
    spec = consumer.spec

    @broker.subscriber(
        spec.filter_subject,
        stream=JStream(spec.stream.name, declare=False),
        durable=spec.durable,
        config=ConsumerConfig(
            ack_wait=spec.ack_wait,
            max_deliver=spec.max_deliver,
            max_ack_pending=spec.max_ack_pending,
        ),
        pull_sub=PullSub(batch_size=spec.batch_size, timeout=1.0),
        max_workers=spec.max_workers,
        ack_policy=AckPolicy.MANUAL,
    )
    async def on_message(message: NatsMessage) -> None:
        await consumer.process(message.raw_message, jetstream(broker))
