"""The unit of work: one database transaction and everything done in it, committed together.

A service makes one per transaction (`async with units() as uow`) and hands it to its
handlers: the session, the service's repositories (a subclass adds them), `emit` for domain
events, advisory locks, and writes deferred to the end. Deferred writes and emitted events
are made just before the commit, one statement per kind (inside a savepoint, at its end); a
commit that queued events wakes the outbox relay. Nothing is kept in the session itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, Self, TypeVar, cast

import psycopg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tollgate_shared.contracts.base import DomainEvent
from tollgate_shared.messaging.outbox import Outbox
from tollgate_shared.persistence.db import DriverStatement

K = TypeVar("K")
V = TypeVar("V")
Q = TypeVar("Q")
U = TypeVar("U", bound="UnitOfWork")


@dataclass(frozen=True, eq=False)
class Deferred(Generic[Q]):
    """A kind of write handlers queue in a unit of work (`uow.deferred(kind)`) and the unit
    makes in one go before it commits: `empty` makes the queue, `write` writes it."""

    empty: Callable[[], Q]
    write: Callable[[UnitOfWork, Q], Awaitable[None]]


class ReadAhead(Generic[K, V]):
    """Rows a repository reads for a whole fetch in one statement (`read`), then answers once
    each from memory (`get`), and from the database after that. That stays right as long as
    a row is only changed after being read through `get` (what a handler changes, the next
    `get` of it reads back), so a message rolled back to its savepoint leaves nothing stale.
    A repository makes one per unit of work; `load(keys)` reads the rows found."""

    def __init__(self, load: Callable[[list[K]], Awaitable[Mapping[K, V]]]) -> None:
        self._load = load
        self._rows: dict[K, V | None] = {}

    async def read(self, keys: Collection[K]) -> None:
        """Read `keys` ahead (those not found answer None)."""
        found = await self._load(list(keys))
        self._rows.update((key, found.get(key)) for key in keys)

    async def get(self, key: K) -> V | None:
        """The row of `key`: what was read ahead the first time, if it was; else read now."""
        if key in self._rows:
            return self._rows.pop(key)
        return (await self._load([key])).get(key)


class Known(Generic[K, V]):
    """What one transaction knows of rows by key, from its reads and its own writes: answers
    as long as the transaction lasts, forgotten whenever a savepoint of it rolls back (its
    writes undone). Right while no other transaction changes those rows meanwhile (the caller
    holds their locks) and every write of this one updates or forgets what it changes."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._rows: dict[K, V | None] = {}
        self._rollbacks = uow.rollbacks

    def _current(self) -> dict[K, V | None]:
        if self._rollbacks != self._uow.rollbacks:
            self._rows.clear()
            self._rollbacks = self._uow.rollbacks
        return self._rows

    def __contains__(self, key: K) -> bool:
        return key in self._current()

    def __getitem__(self, key: K) -> V | None:
        return self._current()[key]

    def get(self, key: K, default: V | None = None) -> V | None:
        return self._current().get(key, default)

    def __setitem__(self, key: K, value: V | None) -> None:
        self._current()[key] = value

    def forget(self, keys: Iterable[K] | None = None) -> None:
        """Forget `keys` (all of them without)."""
        rows = self._current()
        if keys is None:
            rows.clear()
        for key in keys or ():
            rows.pop(key, None)

    def items(self) -> list[tuple[K, V | None]]:
        return list(self._current().items())


# One name, never released: each SAVEPOINT shadows the one before, ROLLBACK TO goes back to
# the newest. Cheaper than SQLAlchemy's nested transactions, and on the driver's connection.
_SAVEPOINT = DriverStatement("SAVEPOINT tollgate_unit", prepare=False)
_ROLLBACK_TO_SAVEPOINT = DriverStatement("ROLLBACK TO SAVEPOINT tollgate_unit", prepare=False)
_LOCK = DriverStatement.of(
    text(
        "SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0)))"
        " FROM unnest(CAST(:names AS text[])) WITH ORDINALITY AS u(k, n)"
    )
)


class UnitOfWork:
    """One transaction on a service's database. Enter it to begin; `commit` to keep what was
    done (leaving the block without committing rolls it back). Each unit is entered once."""

    session: AsyncSession

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, outbox: Outbox | None = None
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._driver: psycopg.AsyncConnection[Any] | None = None
        self._events: dict[str, dict[str, Any]] = {}
        self._queues: dict[Deferred[Any], Any] = {}
        self._held: set[str] = set()
        self._after_commit: list[Callable[[], None]] = []
        self._queued = 0
        self._committed = False
        self.rollbacks = 0
        """Savepoints of this unit rolled back so far (what was read in them may be undone)."""

    async def __aenter__(self) -> Self:
        self.session = self._sessions()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if not self._committed:
                await self.session.rollback()
        finally:
            await self.session.close()

    async def execute(
        self, statement: DriverStatement, params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Run a hand-tuned statement on the transaction's own psycopg connection (begun if
        needed); its rows as dicts (none if it returns no rows)."""
        if self._driver is None:
            connection = await self.session.connection()
            raw = (await connection.get_raw_connection()).driver_connection
            self._driver = cast(psycopg.AsyncConnection[Any], raw)
        return await statement.execute(self._driver, params)

    def emit(self, *events: DomainEvent) -> None:
        """Queue domain events for the outbox: written once each (an id already queued, here or
        by an earlier transaction, queues nothing) before the commit, published after it."""
        if events and self._outbox is None:
            raise RuntimeError("this unit of work has no outbox")
        for event in events:
            self._events.setdefault(event.id, Outbox.row(event))

    async def lock(self, *names: str) -> None:
        """Hold an advisory lock on each of `names` until the transaction ends, taking those
        not held yet in one statement, in name order: transactions that lock up front what they
        are about to write wait for each other instead of deadlocking."""
        wanted = sorted({name for name in names if name not in self._held})
        if wanted:
            await self.execute(_LOCK, {"names": wanted})
            self._held.update(wanted)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call `callback` once this unit has committed (never if it rolls back, nor if the
        savepoint it was asked in does): e.g. to count what was applied exactly once."""
        self._after_commit.append(callback)

    def deferred(self, kind: Deferred[Q]) -> Q:
        """The queue of `kind`'s writes in this unit, made before it commits."""
        queue = self._queues.get(kind)
        if queue is None:
            queue = self._queues[kind] = kind.empty()
        return cast(Q, queue)

    async def write_queued(self, kind: Deferred[Any]) -> None:
        """Make `kind`'s queued writes now: a statement is about to read what they change."""
        queue = self._queues.pop(kind, None)
        if queue is not None:
            await kind.write(self, queue)

    @contextlib.asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A block whose writes are rolled back alone if it raises (the error goes on); what
        it deferred or emitted is written at its end."""
        await self._flush()
        held, callbacks = set(self._held), len(self._after_commit)
        await self.execute(_SAVEPOINT)
        try:
            yield
            await self._flush()
        except Exception:
            self._queues.clear()
            self._events.clear()
            self._held = held  # locks taken in a rolled-back savepoint are released
            del self._after_commit[callbacks:]
            self.rollbacks += 1
            await self.execute(_ROLLBACK_TO_SAVEPOINT)
            raise

    async def commit(self) -> None:
        """Write what was deferred and emitted, commit, and wake the outbox relay if events
        were queued."""
        await self._flush()
        await self.session.commit()
        self._committed = True
        if self._queued and self._outbox is not None:
            self._outbox.wake()
        for callback in self._after_commit:
            callback()

    async def _flush(self) -> None:
        while self._queues:
            kind, queue = next(iter(self._queues.items()))
            del self._queues[kind]
            await kind.write(self, queue)
        if self._events:
            assert self._outbox is not None
            rows, self._events = list(self._events.values()), {}
            self._queued += await self._outbox.insert(self.execute, rows)


def units_of_work(
    kind: Callable[..., U],
    sessions: async_sessionmaker[AsyncSession],
    *,
    outbox: Outbox | None = None,
) -> Callable[[], U]:
    """A factory of `kind` units on `sessions`, emitting to `outbox`: a service's composition
    root builds one and hands it to what opens transactions."""

    def unit() -> U:
        return kind(sessions, outbox=outbox)

    return unit
