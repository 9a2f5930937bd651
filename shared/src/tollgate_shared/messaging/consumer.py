"""Idempotent JetStream consumers: effect + inbox in one transaction, ack after commit.

Each consumer pulls what its durable has ready (up to `fetch_size` messages, without waiting
for a batch to fill) and applies the whole fetch in one transaction: one inbox insert claims
every message id, the handlers run in stream order, each in a savepoint, one commit, then the
acks. A busy stream so costs one commit per fetch instead of one per message; an idle one
still answers at once. Each process applies up to `ConsumerSpec.fetches_in_flight` fetches at
once, each in its own transaction, so that one is applied while another waits on the database;
one that has caught up (its last fetch was not full) first gives the fetches it is applying up
to `ConsumerSpec.gather` to finish, so that what arrives meanwhile is fetched and committed
together instead of as a trickle of small transactions.

A message whose handler fails is rolled back to its savepoint (its inbox row released) and
processed on its own after the commit, so the others are neither held back nor applied twice;
if the transaction itself fails, or a handler fails in a consumer without savepoints (handlers
that only write to the database), every message of the fetch is. On its own, a message is acked
(and the ack confirmed by the server) only after its transaction commits. A failure is nak'ed
with a growing delay; after `max_deliver` deliveries, or at once for input that can never
succeed (`PermanentError`, a schema violation), the message is parked on
`dlq.<service>.<subject>` with the reason and then terminated, so nothing is silently dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

import nats.errors
import nats.js.errors
import structlog
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from opentelemetry.trace import SpanKind
from pydantic import ValidationError
from sqlalchemy import Table

from tollgate_shared.messaging import dlq, inbox
from tollgate_shared.messaging.publish import MSG_ID, ORIGINAL_MSG_ID, publish_with_ack
from tollgate_shared.messaging.pull import Puller
from tollgate_shared.messaging.streams import (
    DLQ,
    ConsumerSpec,
    dlq_subject,
    filters,
    subject_matches,
)
from tollgate_shared.observability import metrics
from tollgate_shared.observability.tracing import continued
from tollgate_shared.unit_of_work import UnitOfWork

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


@dataclass(frozen=True)
class Batch:
    """What applying a fetch together came to."""

    done: list[tuple[Msg, bool]]
    """Committed messages, each with whether it was fresh (else a duplicate)."""
    failed: list[tuple[Msg, Incoming]]
    """Messages to process on their own."""


Handler = Callable[[UnitOfWork, Incoming], Awaitable[None]]
"""Applies a message's effect through the unit of work; must not commit."""
Prefetch = Callable[[UnitOfWork, Sequence[Incoming]], Awaitable[None]]
"""Runs in a fetch's transaction before its handlers, outside their savepoints, with the
messages they will apply (stream order), and before the handler of a message applied alone:
may take, in one statement for all of them, the locks and reads the handlers would take one
by one (locks taken so, in one order, keep concurrent fetches from deadlocking)."""


class IdempotentConsumer:
    """Runs `handler` at most once per message id, whatever the deliveries.

    The durable delivers `subjects` only when given (else the spec's whole filter), and the
    payment outcomes it counts; messages on subjects `accepts` declines are acked without
    touching the database. Each transaction is a unit of work of `units`. `prefetch` runs
    before the handlers of a fetch applied together, and before the handler of a message
    applied alone (see `Prefetch`): what it reads must stay right for every handler of the
    fetch, including after another message was rolled back to its savepoint.
    """

    def __init__(
        self,
        spec: ConsumerSpec,
        units: Callable[[], UnitOfWork],
        inbox_table: Table,
        handler: Handler,
        *,
        subjects: Sequence[str] = (),
        accepts: Callable[[str], bool] | None = None,
        prefetch: Prefetch | None = None,
    ) -> None:
        self.spec = spec
        self._prefetch = prefetch
        self._accepts = accepts
        self._units = units
        self._inbox = inbox_table
        self._handler = handler
        labels = (spec.stream.name, spec.durable)
        self._outcomes = {o: metrics.CONSUMER_MESSAGES.labels(*labels, o) for o in metrics.OUTCOMES}
        self._handler_seconds = metrics.HANDLER_SECONDS.labels(*labels)
        self._payments = {
            f"stripe.{t}": metrics.PAYMENT_EVENTS.labels(spec.durable, t)
            for t in metrics.PAYMENT_TYPES
        }
        # A narrowed durable still receives the payment outcomes it counts (acked untouched).
        counted = [p for p in self._payments if subject_matches(spec.filter_subject, p)]
        self._config = spec.config(sorted({*subjects, *counted}) if subjects else ())

    @property
    def subjects(self) -> list[str]:
        """The subjects its durable delivers."""
        return filters(self._config)

    async def apply(self, incoming: Incoming) -> bool:
        """Apply the message's effect once; returns False if it had already been applied."""
        async with self._units() as uow:
            fresh = bool(
                await inbox.claim(
                    uow,
                    self._inbox,
                    consumer=self.spec.durable,
                    messages=[(incoming.message_id, incoming.subject)],
                )
            )
            if fresh:
                if self._prefetch is not None:
                    await self._prefetch(uow, [incoming])
                await self._handler(uow, incoming)
            await uow.commit()
        return fresh

    async def apply_batch(self, batch: Sequence[tuple[Msg, Incoming]]) -> Batch:
        """Apply a fetch in one transaction, each message in a savepoint: one that fails is
        rolled back alone (its inbox row too) and handed back; the others commit together,
        so what their handlers did outside the database (a Stripe call) is not done again.
        Without savepoints (`ConsumerSpec.savepoints`), a failure is raised."""
        done: list[tuple[Msg, bool]] = []
        failed: list[tuple[Msg, Incoming]] = []
        async with self._units() as uow:
            fresh_ids = await inbox.claim(
                uow,
                self._inbox,
                consumer=self.spec.durable,
                messages=[(incoming.message_id, incoming.subject) for _, incoming in batch],
            )
            if self._prefetch is not None:
                ahead = {i.message_id: i for _, i in batch if i.message_id in fresh_ids}
                await self._prefetch(uow, list(ahead.values()))
            for msg, incoming in batch:
                first = incoming.message_id in fresh_ids
                fresh_ids.discard(incoming.message_id)  # a second copy: a duplicate
                if first and not await self._apply_in(uow, msg, incoming):
                    failed.append((msg, incoming))
                    continue
                done.append((msg, first))
            await uow.commit()
        return Batch(done=done, failed=failed)

    async def _apply_in(self, uow: UnitOfWork, msg: Msg, incoming: Incoming) -> bool:
        """Run the handler in the fetch's transaction. In a savepoint, a failure is rolled
        back alone (its inbox row too) and reported (False); without, it is raised and rolls
        back the whole fetch."""
        if not self.spec.savepoints:
            with self._span(msg, incoming), self._handler_seconds.time():
                await self._handler(uow, incoming)
            return True
        try:
            async with uow.savepoint():
                with self._span(msg, incoming), self._handler_seconds.time():
                    await self._handler(uow, incoming)
        except Exception as exc:
            log.info(
                "batch.message_failed",
                consumer=self.spec.durable,
                message_id=incoming.message_id,
                error=repr(exc),
            )
            await inbox.release(
                uow, self._inbox, consumer=self.spec.durable, message_id=incoming.message_id
            )
            return False
        return True

    async def process_batch(self, msgs: Sequence[Msg], js: JetStreamContext) -> None:
        """Apply a fetch together and ack what committed; a message that failed, or all of
        them if the transaction itself failed, go through `process` one by one (retry, DLQ).
        Messages on subjects `accepts` declines are acked without touching the database."""
        wanted: list[tuple[Msg, Incoming]] = []
        for msg in msgs:
            incoming = Incoming.from_msg(msg)
            if incoming.delivered == 1 and incoming.subject in self._payments:
                self._payments[incoming.subject].inc()
            if self._accepts is not None and not self._accepts(incoming.subject):
                await msg.ack()
            else:
                wanted.append((msg, incoming))
        if len(wanted) == 1:
            batch = Batch(done=[], failed=wanted)
        elif wanted:
            try:
                batch = await self.apply_batch(wanted)
            except Exception as exc:
                size = len(wanted)
                log.info("batch.split", consumer=self.spec.durable, size=size, error=repr(exc))
                batch = Batch(done=[], failed=wanted)
        else:
            return
        for msg, first in batch.done:
            await msg.ack()
            self._outcomes["processed" if first else "duplicate"].inc()
        for msg, incoming in batch.failed:
            await self.process(msg, incoming, js)

    def _span(self, msg: Msg, incoming: Incoming) -> contextlib.AbstractContextManager[object]:
        return continued(
            f"consume {incoming.subject}",
            msg.headers,
            kind=SpanKind.CONSUMER,
            consumer=self.spec.durable,
            message_id=incoming.message_id,
        )

    async def subscribe(self, nc: NatsClient) -> Puller:
        """Bind to the durable, creating it if it does not exist yet. An existing durable keeps
        its position and settings (a rewound one its start), only its subjects are brought in
        line: the server then skips what no handler wants instead of delivering it."""
        js = nc.jetstream()
        stream, wanted = self.spec.stream.name, self._config
        try:
            current = (await js.consumer_info(stream, self.spec.durable)).config
        except nats.js.errors.NotFoundError:
            await js.add_consumer(stream, wanted)
        else:
            before, after = filters(current), filters(wanted)
            if before != after:
                log.info(
                    "consumer.subjects_changed",
                    consumer=self.spec.durable,
                    stream=stream,
                    before=before,
                    after=after,
                )
                narrowed = dataclasses.replace(
                    current,
                    filter_subject=wanted.filter_subject,
                    filter_subjects=wanted.filter_subjects,
                )
                await js.add_consumer(stream, narrowed)
        puller = Puller(nc, stream, self.spec.durable)
        await puller.start()
        return puller

    async def run(
        self,
        js: JetStreamContext,
        puller: Puller,
        stop: asyncio.Event,
        *,
        fetch_timeout: float = 5.0,
    ) -> None:
        """Fetch and apply batches until `stop` is set or the task is cancelled. Up to
        `spec.fetches_in_flight` fetches are applied at once, each in its own transaction; the
        next fetch starts as soon as one is done. One fetch (`Puller`) is outstanding at a time:
        it answers with what is ready, and its requests never linger on the server. After a
        fetch that was not full, the next waits up to `spec.gather` for the fetches being
        applied. On stop, batches being applied are finished (a fetch in progress is abandoned:
        what it would have delivered is redelivered after `ack_wait`)."""
        slots = asyncio.Semaphore(self.spec.fetches_in_flight)
        applying: set[asyncio.Task[None]] = set()
        try:
            while not stop.is_set():
                await slots.acquire()
                try:
                    msgs = await puller.fetch(self.spec.fetch_size, timeout=fetch_timeout)
                except nats.errors.TimeoutError:
                    slots.release()
                    continue
                except Exception as exc:  # NATS reconnecting, a leader election …
                    slots.release()
                    self._pull_failed(exc)
                    await asyncio.sleep(0.5)
                    continue
                task = asyncio.create_task(self._apply_fetch(msgs, js, slots))
                applying.add(task)
                task.add_done_callback(applying.discard)
                if len(msgs) < self.spec.fetch_size:  # caught up: let the next fetch gather
                    await asyncio.wait(set(applying), timeout=self.spec.gather)
        finally:
            if applying:
                await asyncio.wait(applying, timeout=10)
            await puller.stop()

    async def _apply_fetch(
        self, msgs: Sequence[Msg], js: JetStreamContext, slots: asyncio.Semaphore
    ) -> None:
        try:
            await self.process_batch(msgs, js)
        except Exception as exc:  # a lost ack …
            self._pull_failed(exc)
        finally:
            slots.release()

    def _pull_failed(self, exc: Exception) -> None:
        # Unacked messages come back after ack_wait; the inbox makes that harmless.
        log.warning("consumer.pull_failed", consumer=self.spec.durable, error=repr(exc))

    async def process(self, msg: Msg, incoming: Incoming, js: JetStreamContext) -> None:
        """Apply one message in its own transaction, then ack; or nak with backoff; or park it
        on the DLQ (published through `js`)."""
        bound = log.bind(
            consumer=self.spec.durable, subject=incoming.subject, message_id=incoming.message_id
        )
        try:
            with self._span(msg, incoming), self._handler_seconds.time():
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
                msg_id=await self._dead_letter_id(js, incoming),
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

    async def _dead_letter_id(self, js: JetStreamContext, incoming: Incoming) -> str:
        """The DLQ Msg-Id of this dead-lettering: the same for every attempt to park this
        delivery, new for every later one.

        Parking one delivery may be tried more than once: the DLQ's ack got lost (the message
        is nak'ed and comes back), or the process died between parking and terminating (it
        comes back after `ack_wait`). Those attempts carry the same stream sequence on a durable
        of the same creation time, so JetStream keeps one letter. A letter replayed from the
        DLQ is a new message on its stream (a new sequence), and a rewound durable is a new
        consumer (a new creation time): either failing again is parked again, however soon,
        where an id of the message alone would be dropped as a duplicate within the DLQ's
        duplicate window. Asking the server for the creation time costs one request per
        dead-lettering, which is rare, and stays right for a durable rewound under a running
        process."""
        created = (await js.consumer_info(self.spec.stream.name, self.spec.durable)).created
        return ":".join(
            (
                self.spec.durable,
                incoming.message_id,
                f"{self.spec.stream.name}@{incoming.stream_sequence}",
                created.isoformat(),
            )
        )


@contextlib.asynccontextmanager
async def consuming(nc: NatsClient, consumers: Sequence[IdempotentConsumer]) -> AsyncIterator[None]:
    """Run `consumers` (each its durable's pull loop) until the block ends; a batch being
    applied then is finished first, so its messages are acked rather than redelivered."""
    js = nc.jetstream()
    pairs = [(c, await c.subscribe(nc)) for c in consumers]
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(
            c.run(js, puller, stop),
            name=f"consumer:{c.spec.durable}:{c.spec.stream.name}",
        )
        for c, puller in pairs
    ]
    try:
        yield
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        # A batch being applied gets 10 s; a swallowed cancellation ends with the next fetch.
        _, late = await asyncio.wait(tasks, timeout=15) if tasks else (set(), set())
        for task in late:
            task.cancel()
