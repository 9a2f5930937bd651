"""A service's moving parts — database, broker, consumers, outbox relay — started and stopped
together, so an app factory only lists what its service has.

The broker is FastStream's: consumers are its subscribers (`messaging.subscriber`), and the
relay, the gateway and the DLQ publish through its publishers (`messaging.channels`), so its
AsyncAPI schema documents every channel the service reads and writes. The database parts are
imported only by services that have a database (the gateway installs none of them)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import structlog
from faststream.nats import NatsBroker

from tollgate_shared.contracts.base import DomainEvent
from tollgate_shared.contracts.producers import EMITTED_BY
from tollgate_shared.infra.settings import ServiceSettings
from tollgate_shared.infra.tasks import cancel_and_wait
from tollgate_shared.messaging.broker import broker_ready, connect_and_declare, make_broker
from tollgate_shared.messaging.channels import Publisher, dead_letters, domain_events
from tollgate_shared.messaging.dispatch import Handlers
from tollgate_shared.messaging.streams import ConsumerSpec

if TYPE_CHECKING:
    from nats.js import JetStreamContext
    from psycopg_pool import AsyncConnectionPool
    from sqlalchemy import Table
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from tollgate_shared.messaging.consumer import IdempotentConsumer
    from tollgate_shared.messaging.outbox import Outbox
    from tollgate_shared.messaging.relay import OutboxRelay
    from tollgate_shared.persistence.unit_of_work import UnitOfWork

U = TypeVar("U", bound="UnitOfWork")

log = structlog.get_logger(__name__)


@dataclass
class Runtime:
    """Everything a running service holds; built by the service's bootstrap."""

    settings: ServiceSettings
    broker: NatsBroker
    engine: AsyncEngine | None = None
    sessions: async_sessionmaker[AsyncSession] | None = None
    inbox: Table | None = None
    outbox: Outbox | None = None
    consumers: list[IdempotentConsumer] = field(default_factory=list)
    publishers: dict[str, Publisher] = field(default_factory=dict)
    """The service's domain events' publishers by subject (what its relay publishes)."""
    relay: OutboxRelay | None = None
    reads: AsyncConnectionPool | None = None
    """Driver connections for hot read paths (the membership gate), if the service asked."""
    metrics_interval: float = 10.0
    """Seconds between refreshes of the lag, DLQ and outbox gauges on `/metrics`."""
    _dead_letters: dict[str, Publisher] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        settings: ServiceSettings,
        *,
        inbox: Table | None = None,
        outbox: Table | None = None,
        with_database: bool = True,
        read_pool: bool = False,
    ) -> Runtime:
        """Engine and broker for `settings`, a publisher of each domain event the service emits
        (`contracts.producers`) for its outbox's relay, and a driver pool for hot reads when
        `read_pool` (nothing connects until `running`)."""
        broker = make_broker(settings.nats_url, name=settings.service_name)
        if not with_database:
            return cls(settings=settings, broker=broker)
        from tollgate_shared.messaging.outbox import Outbox
        from tollgate_shared.persistence.db import (
            DatabaseTimeouts,
            make_engine,
            make_read_pool,
            make_sessionmaker,
        )

        timeouts = DatabaseTimeouts(
            connect=settings.database_connect_timeout_seconds,
            pool=settings.database_pool_timeout_seconds,
            statement=settings.database_statement_timeout_seconds,
        )
        url = settings.sqlalchemy_url
        engine = make_engine(url, timeouts=timeouts)
        return cls(
            settings=settings,
            broker=broker,
            engine=engine,
            sessions=make_sessionmaker(engine),
            inbox=inbox,
            outbox=Outbox(outbox) if outbox is not None else None,
            publishers=domain_events(broker, EMITTED_BY.get(settings.service_name, DomainEvent))
            if outbox is not None
            else {},
            reads=make_read_pool(url, timeouts=timeouts) if read_pool else None,
        )

    def units(self, kind: Callable[..., U]) -> Callable[[], U]:
        """A factory of `kind` units of work on the service's database and outbox."""
        from tollgate_shared.persistence.unit_of_work import units_of_work

        if self.sessions is None:
            raise RuntimeError("units of work need the service's database")
        return units_of_work(kind, self.sessions, outbox=self.outbox)

    def consume(
        self,
        spec: ConsumerSpec,
        handlers: Handlers,
        *,
        units: Callable[[], UnitOfWork],
        description: str = "",
    ) -> IdempotentConsumer:
        """Add an idempotent durable consumer of `handlers`, whose transactions are `units`,
        as a subscriber of the broker (started with it) that parks what it gives up on through
        its DLQ publisher; `description` says what it does (AsyncAPI)."""
        from tollgate_shared.messaging.consumer import IdempotentConsumer
        from tollgate_shared.messaging.subscriber import declare_consumer

        if self.inbox is None:
            raise RuntimeError("a consumer needs the service's inbox table")
        consumer = IdempotentConsumer(spec, handlers, units, self.inbox)
        dead = self._dead_letters.get(spec.durable)
        if dead is None:  # one per durable name, shared by its consumers on several streams
            dead = self._dead_letters[spec.durable] = dead_letters(self.broker, spec.durable)
        description = description or (
            f"Durable `{spec.durable}` applies each event once (its inbox), in fetches of up to "
            f"{spec.fetch_size}, acked after commit; gives up to dlq.{spec.durable}.<subject>."
        )
        declare_consumer(self.broker, consumer, dead, description)
        self.consumers.append(consumer)
        return consumer

    async def database_ready(self) -> bool:
        """Whether the database answers a trivial query."""
        if self.engine is None:
            return True
        from sqlalchemy import text

        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def broker_ready(self) -> bool:
        """Whether NATS is connected and JetStream answers."""
        return await broker_ready(self.broker)

    async def _refresh_gauges(self, js: JetStreamContext) -> None:
        from tollgate_shared.observability import gauges

        await gauges.run(
            js,
            [consumer.spec for consumer in self.consumers],
            service=self.settings.service_name,
            sessions=self.sessions,
            outbox=self.outbox.table if self.outbox is not None else None,
            interval=self.metrics_interval,
        )

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Runtime]:
        """Connect, declare streams, start the broker (its subscribers: the consumers) and the
        outbox relay; stop all on exit, the consumers finishing the fetches they apply."""
        js = await connect_and_declare(self.broker, replicas=self.settings.nats_stream_replicas)
        if self.reads is not None:
            await self.reads.open()
        if self.outbox is not None and self.sessions is not None:
            from tollgate_shared.messaging.relay import OutboxRelay

            self.relay = OutboxRelay(self.sessions, self.outbox, self.publishers)
            self._tasks.append(asyncio.create_task(self.relay.run(), name="outbox-relay"))
        if self.consumers or self.outbox is not None:
            self._tasks.append(asyncio.create_task(self._refresh_gauges(js), name="gauges"))
        await self.broker.start()
        subjects = {f"{c.spec.durable}@{c.spec.stream.name}": c.subjects for c in self.consumers}
        log.info("runtime.started", consumers=subjects, outbox=self.relay is not None)
        try:
            yield self
        finally:
            for subscriber in self.broker.subscribers:
                await subscriber.stop()
            await cancel_and_wait(self._tasks)
            self._tasks.clear()
            try:
                await self.broker.stop()
            except Exception as exc:  # the broker already gone: nothing left to drain
                log.warning("runtime.broker_stop_failed", error=repr(exc))
            if self.reads is not None:
                await self.reads.close()
            if self.engine is not None:
                await self.engine.dispose()
            log.info("runtime.stopped")
