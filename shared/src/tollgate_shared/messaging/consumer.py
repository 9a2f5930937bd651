"""Idempotent JetStream consumers: effect and inbox in one transaction, ack after commit.

A consumer is put together from parts with one job each: its durable's pull loop
(`pull.pull` over a `pull.Puller`: what the durable has ready, without waiting for a batch to
fill), the message (`message.Delivery`: its content, its parsed event, its answers), the
batch application (`batch.BatchApplier`: a fetch in one unit of work, with or without a
savepoint per message, after one inbox claim for all of it), and the service's handlers
(`dispatch.Handlers`: which subjects, parsed how, applied by whom). It runs as a FastStream
subscriber of the service's broker (`subscriber.FetchSubscriber`).

A message that failed in its fetch, or every message of a fetch whose transaction failed, is
then processed on its own: acked (and the ack confirmed by the server) only after its
transaction commits; when it must wait for a shared budget (`Postponed`: Stripe's rate
limit), delivered again after the wait, never counted as a failure (the durable's own
`max_deliver` is unlimited); on failure retried with a growing delay; after `max_deliver`
failed deliveries, or at once for input that can never succeed (`PermanentError`, an event that
does not parse), parked on `dlq.<service>.<subject>` with the reason and then terminated, so
nothing is silently dropped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import nats.js.errors
import structlog
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig
from pydantic import ValidationError

from tollgate_shared.infra.stripe_budget import Priority, prioritised
from tollgate_shared.messaging import dlq
from tollgate_shared.messaging.batch import Batch, BatchApplier
from tollgate_shared.messaging.dispatch import Handlers
from tollgate_shared.messaging.message import Delivery, PermanentError, Postponed
from tollgate_shared.messaging.pull import Puller
from tollgate_shared.messaging.streams import ConsumerSpec, filters
from tollgate_shared.observability import metrics
from tollgate_shared.persistence.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from faststream.nats.publisher.usecase import LogicPublisher
    from sqlalchemy import Table

log = structlog.get_logger(__name__)

DEFERRALS_KEPT = 10_000


@dataclasses.dataclass(frozen=True)
class Fetch:
    """A fetch's messages: those the handlers want, parsed; those they want that do not
    parse (to be parked); those no handler wants (to be acked untouched)."""

    parsed: list[Delivery]
    unparsed: list[Delivery]
    declined: list[Delivery]


class IdempotentConsumer:
    """Applies `handlers` at most once per message id, whatever the deliveries, each
    transaction a unit of work of `units`. The durable is asked for the handlers' subjects
    only (else the spec's whole filter); messages on other subjects are acked untouched."""

    def __init__(
        self,
        spec: ConsumerSpec,
        handlers: Handlers,
        units: Callable[[], UnitOfWork],
        inbox_table: Table,
    ) -> None:
        self.spec = spec
        self._handlers = handlers
        self.applier = BatchApplier(spec, handlers, units, inbox_table)
        labels = (spec.stream.name, spec.durable)
        self._outcomes = {o: metrics.CONSUMER_MESSAGES.labels(*labels, o) for o in metrics.OUTCOMES}
        self._seconds = metrics.HANDLER_SECONDS.labels(*labels)
        self.config: ConsumerConfig = spec.config(handlers.subjects)
        self._deferrals: dict[str, int] = {}
        """Per message id, the deliveries this process deferred (not failures)."""

    @property
    def subjects(self) -> list[str]:
        """The subjects its durable delivers."""
        return filters(self.config)

    @property
    def payload(self) -> Any:
        """The type of the events its handlers take."""
        return self._handlers.payload

    def sort(self, msgs: Sequence[Msg]) -> Fetch:
        """A fetch's messages, parsed where the handlers want them."""
        fetch = Fetch(parsed=[], unparsed=[], declined=[])
        for msg in msgs:
            delivery = Delivery(msg)
            if not self._handlers.accepts(delivery.incoming.subject):
                fetch.declined.append(delivery)
                continue
            try:
                delivery.event = self._handlers.parse(delivery.incoming)
            except ValidationError:
                fetch.unparsed.append(delivery)
            else:
                fetch.parsed.append(delivery)
        return fetch

    async def apply(self, fetch: Fetch, js: JetStreamContext, dead: LogicPublisher) -> None:
        """Apply a fetch together and ack what committed; a message that failed, or all of
        them if the transaction itself failed, go through `process` one by one (retry, or
        park on the DLQ through `dead`). A Stripe call its handlers make is postponable: with
        the account's budget spent, its message is delivered again later."""
        with prioritised(Priority.POSTPONABLE):
            await self._apply(fetch, js, dead)

    async def _apply(self, fetch: Fetch, js: JetStreamContext, dead: LogicPublisher) -> None:
        for delivery in fetch.declined:
            await delivery.ack()
        parsed = fetch.parsed
        batch = Batch(failed=parsed) if len(parsed) == 1 else Batch()
        if len(parsed) > 1:
            try:
                batch = await self.applier.apply(parsed)
            except Exception as exc:
                log.info(
                    "batch.split", consumer=self.spec.durable, size=len(parsed), error=repr(exc)
                )
                batch = Batch(failed=parsed)
        for delivery, first in batch.done:
            await delivery.ack()
            self._outcomes["processed" if first else "duplicate"].inc()
        for delivery in (*batch.failed, *fetch.unparsed):
            await self.process(delivery, js, dead)

    async def process(self, delivery: Delivery, js: JetStreamContext, dead: LogicPublisher) -> None:
        """Apply one message in its own transaction, then ack; or retry it with backoff; or
        park it on the DLQ."""
        incoming = delivery.incoming
        bound = log.bind(
            consumer=self.spec.durable, subject=incoming.subject, message_id=incoming.message_id
        )
        try:
            if delivery.event is None:
                delivery.event = self._handlers.parse(incoming)
            with self.applier.span(delivery), self._seconds.time():
                fresh = await self.applier.apply_one(delivery)
        except (PermanentError, ValidationError) as exc:
            bound.warning("message.rejected", error=str(exc))
            await self._park(delivery, js, dead, exc)
            return
        except Postponed as exc:
            self._deferrals[incoming.message_id] = self._deferrals.pop(incoming.message_id, 0) + 1
            while len(self._deferrals) > DEFERRALS_KEPT:
                del self._deferrals[next(iter(self._deferrals))]
            bound.info("message.deferred", delay=round(exc.retry_after, 3), why=str(exc))
            await delivery.retry(exc.retry_after)
            self._outcomes["deferred"].inc()
            return
        except Exception as exc:
            failures = incoming.delivered - self._deferrals.get(incoming.message_id, 0)
            if failures >= self.spec.max_deliver:
                bound.error("message.exhausted", delivered=incoming.delivered, exc_info=exc)
                await self._park(delivery, js, dead, exc)
                return
            delay = self.spec.retry_delay(incoming.delivered)
            bound.warning(
                "message.retry", delivered=incoming.delivered, delay=delay, error=repr(exc)
            )
            await delivery.retry(delay)
            self._outcomes["retried"].inc()
            return
        await delivery.ack_sync()
        self._deferrals.pop(incoming.message_id, None)
        self._outcomes["processed" if fresh else "duplicate"].inc()
        bound.debug("message.processed" if fresh else "message.duplicate")

    async def _park(
        self, delivery: Delivery, js: JetStreamContext, dead: LogicPublisher, exc: BaseException
    ) -> None:
        try:
            await dlq.park(js, dead, self.spec, delivery.incoming, exc)
        except Exception:
            log.exception("message.dead_letter_failed", message_id=delivery.incoming.message_id)
            await delivery.retry(self.spec.retry_delay(delivery.incoming.delivered))
            self._outcomes["retried"].inc()
            return
        await delivery.term()
        self._outcomes["dead_lettered"].inc()

    async def bind(self, nc: NatsClient) -> Puller:
        """Bind to the durable, creating it if it does not exist yet. An existing durable keeps
        its position and settings (a rewound one its start), only its subjects and redelivery
        limit are brought in line: the server then skips what no handler wants instead of
        delivering it."""
        js = nc.jetstream()
        stream, wanted = self.spec.stream.name, self.config
        try:
            current = (await js.consumer_info(stream, self.spec.durable)).config
        except nats.js.errors.NotFoundError:
            await js.add_consumer(stream, wanted)
        else:
            before, after = filters(current), filters(wanted)
            if before != after or current.max_deliver != wanted.max_deliver:
                log.info(
                    "consumer.config_changed",
                    consumer=self.spec.durable,
                    stream=stream,
                    before=before,
                    after=after,
                    max_deliver=wanted.max_deliver,
                )
                narrowed = dataclasses.replace(
                    current,
                    filter_subject=wanted.filter_subject,
                    filter_subjects=wanted.filter_subjects,
                    max_deliver=wanted.max_deliver,
                )
                await js.add_consumer(stream, narrowed)
        puller = Puller(nc, stream, self.spec.durable)
        await puller.start()
        return puller
