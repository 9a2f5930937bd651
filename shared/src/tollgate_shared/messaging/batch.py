"""Applying a fetch in one transaction: one inbox claim for every message id, the prefetch,
then the handlers in stream order, each in a savepoint, one commit. A message the prefetch
found needs nothing (another app's) is done without its handler or a savepoint.

A message whose handler fails is rolled back to its savepoint (its inbox row released) and
handed back to be processed on its own, so the others are neither held back nor applied
twice (their Stripe calls are not repeated). A consumer whose handlers only write to its own
database, or whose calls outside it are safe to repeat, applies a fetch without savepoints
(`ConsumerSpec.savepoints`), saving a round trip per message: a failure then rolls back the
whole fetch, whose messages are applied again one by one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import structlog
from opentelemetry.trace import SpanKind
from sqlalchemy import Table

from tollgate_shared.messaging import inbox
from tollgate_shared.messaging.dispatch import Handlers
from tollgate_shared.messaging.message import Delivery
from tollgate_shared.messaging.streams import ConsumerSpec
from tollgate_shared.observability import metrics
from tollgate_shared.observability.tracing import continued
from tollgate_shared.persistence.unit_of_work import UnitOfWork

log = structlog.get_logger(__name__)


@dataclass
class Batch:
    """What applying a fetch together came to."""

    done: list[tuple[Delivery, bool]] = field(default_factory=list)
    """Committed messages, each with whether it was fresh (else a duplicate)."""
    failed: list[Delivery] = field(default_factory=list)
    """Messages to process on their own."""


class BatchApplier:
    """Applies parsed deliveries of one durable through `handlers`, each transaction a unit of
    work of `units`, at most once per message id (the inbox)."""

    def __init__(
        self,
        spec: ConsumerSpec,
        handlers: Handlers,
        units: Callable[[], UnitOfWork],
        inbox_table: Table,
    ) -> None:
        self._spec = spec
        self._handlers = handlers
        self._units = units
        self._inbox = inbox_table
        self._seconds = metrics.HANDLER_SECONDS.labels(spec.stream.name, spec.durable)

    async def apply_one(self, delivery: Delivery) -> bool:
        """Apply one message in its own transaction (with its own prefetch); False if it had
        already been applied. Raises what its handler raised."""
        incoming = delivery.incoming
        async with self._units() as uow:
            fresh = await inbox.claim(
                uow,
                self._inbox,
                consumer=self._spec.durable,
                messages=[(incoming.message_id, incoming.subject)],
            )
            if fresh and not await self._handlers.prefetch(uow, [delivery.event]):
                await self._handlers.apply(uow, incoming.subject, delivery.event)
            await uow.commit()
        return bool(fresh)

    async def apply(self, deliveries: Sequence[Delivery]) -> Batch:
        """Apply a fetch in one transaction; a message that fails in its savepoint is handed
        back in `failed`. Without savepoints a failure is raised (the fetch rolls back)."""
        batch = Batch()
        async with self._units() as uow:
            fresh_ids = await inbox.claim(
                uow,
                self._inbox,
                consumer=self._spec.durable,
                messages=[(d.incoming.message_id, d.incoming.subject) for d in deliveries],
            )
            firsts: dict[str, Delivery] = {}  # a second copy of a message is a duplicate
            for delivery in deliveries:
                if delivery.incoming.message_id in fresh_ids:
                    firsts.setdefault(delivery.incoming.message_id, delivery)
            unneeded = await self._handlers.prefetch(uow, [d.event for d in firsts.values()])
            for delivery in deliveries:
                first = firsts.get(delivery.incoming.message_id) is delivery
                if first and id(delivery.event) in unneeded:
                    batch.done.append((delivery, first))  # nothing to do: no savepoint either
                elif first and not await self._apply_in(uow, delivery):
                    batch.failed.append(delivery)
                else:
                    batch.done.append((delivery, first))
            await uow.commit()
        return batch

    async def _apply_in(self, uow: UnitOfWork, delivery: Delivery) -> bool:
        """Run the handler in the fetch's transaction. In a savepoint, a failure is rolled
        back alone (its inbox row too) and reported (False); without, it is raised."""
        incoming = delivery.incoming
        if not self._spec.savepoints:
            with self.span(delivery), self._seconds.time():
                await self._handlers.apply(uow, incoming.subject, delivery.event)
            return True
        try:
            async with uow.savepoint():
                with self.span(delivery), self._seconds.time():
                    await self._handlers.apply(uow, incoming.subject, delivery.event)
        except Exception as exc:
            log.info(
                "batch.message_failed",
                consumer=self._spec.durable,
                message_id=incoming.message_id,
                error=repr(exc),
            )
            await inbox.release(
                uow, self._inbox, consumer=self._spec.durable, message_id=incoming.message_id
            )
            return False
        return True

    def span(self, delivery: Delivery) -> contextlib.AbstractContextManager[object]:
        """The span of applying `delivery`, continuing the trace its headers carry."""
        return continued(
            f"consume {delivery.incoming.subject}",
            delivery.headers,
            kind=SpanKind.CONSUMER,
            consumer=self._spec.durable,
            message_id=delivery.incoming.message_id,
        )
