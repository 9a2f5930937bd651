"""Engine and session setup, hand-tuned driver statements, and the inbox/outbox table
factories every service migrates."""

from __future__ import annotations

import time
from collections.abc import (
    AsyncIterator,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import orjson
import psycopg
import sqlalchemy.exc
from psycopg.rows import AsyncRowFactory, dict_row, tuple_row
from psycopg.types.json import set_json_loads
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    column,
    event,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

R = TypeVar("R")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def make_metadata() -> MetaData:
    """A MetaData with stable constraint names, so Alembic migrations stay deterministic."""
    return MetaData(naming_convention=NAMING_CONVENTION)


@dataclass(frozen=True)
class DatabaseTimeouts:
    """How long a service waits on its database before it gives up: while the database is
    down, requests fail at once (503) instead of waiting for it."""

    connect: int = 2
    """Seconds to open a connection (libpq's `connect_timeout`, at least 2); without it a
    connection to an unreachable host waits 130 s."""
    pool: float = 1.0
    """Seconds to wait for a pooled connection when none is free (or none can be made)."""
    statement: float = 30.0
    """Seconds a statement may run before Postgres cancels it; 0 for no limit."""

    def connect_args(self) -> dict[str, Any]:
        """The driver's connection parameters for these timeouts."""
        args: dict[str, Any] = {"connect_timeout": self.connect}
        if self.statement > 0:
            args["options"] = f"-c statement_timeout={round(self.statement * 1000)}"
        return args


DEFAULT_TIMEOUTS = DatabaseTimeouts()

READ_POOL_RECONNECT_SECONDS = 5.0
"""How long the read pool retries a connection it could not make, in the background."""

DATABASE_UNAVAILABLE = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)
"""What the database layer raises when the database cannot answer now: it is down or
unreachable, no pooled connection is free, a statement timed out or was cancelled, a
deadlock or serialization failure. Worth retrying; never the request's fault."""


def describe_unavailable(exc: BaseException) -> str:
    """The driver's reason for one of `DATABASE_UNAVAILABLE`, on one line, for a log: without
    SQLAlchemy's statement and parameters (which may hold personal data)."""
    cause = getattr(exc, "orig", None) or exc
    reason = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {reason[0] if reason else ''}"


PING_AFTER_IDLE_SECONDS = 1.0
"""A pooled connection idle for longer is pinged before it is used (and replaced if dead); one
in steady use is not, which saves a round trip per transaction. A connection the server
dropped while in use fails its transaction once, and that invalidates the whole pool."""


def make_engine(
    url: str, *, pool_size: int = 10, timeouts: DatabaseTimeouts = DEFAULT_TIMEOUTS
) -> AsyncEngine:
    """An async engine on psycopg 3 that pings connections idle for a while, for one service's
    own database; its JSON columns are parsed by orjson (membership's main statement returns
    five per event)."""
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=timeouts.pool,
        connect_args=timeouts.connect_args(),
        json_deserializer=orjson.loads,
    )
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Before handing out a connection idle for `PING_AFTER_IDLE_SECONDS`, ping it; a dead one
    is replaced by the pool (`pool_pre_ping` pings at every checkout)."""
    dialect = engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def _idle(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            if dialect.is_disconnect(exc, dbapi_connection, None):
                raise sqlalchemy.exc.DisconnectionError(describe_unavailable(exc)) from exc
            raise


def make_read_pool(
    url: str, *, max_size: int = 10, timeouts: DatabaseTimeouts = DEFAULT_TIMEOUTS
) -> AsyncConnectionPool:
    """A psycopg pool (opened by the runtime) of autocommit connections for hot reads that skip
    SQLAlchemy: on a 2-core machine a statement through SQLAlchemy costs several times its
    round trip to Postgres. A connection it cannot make is retried for a few seconds only;
    after that the pool makes one when a read asks, so a database back from an outage is used
    at once rather than at the next step of a growing backoff."""
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    return AsyncConnectionPool(
        conninfo,
        min_size=2,
        max_size=max_size,
        open=False,
        timeout=timeouts.pool,
        reconnect_timeout=READ_POOL_RECONNECT_SECONDS,
        kwargs={"autocommit": True, **timeouts.connect_args()},
        configure=_parse_json_fast,
    )


async def _parse_json_fast(connection: psycopg.AsyncConnection[Any]) -> None:
    """JSON columns parsed by orjson: the stdlib parser took an eighth of the gate's CPU."""
    set_json_loads(orjson.loads, connection)


@dataclass(frozen=True)
class DriverStatement:
    """A SQLAlchemy statement compiled once for psycopg, with Postgres's own `$n` placeholders
    (psycopg parses a statement's placeholders at every run when it is longer than its cache
    takes, as most of these are), run on a unit of work's own connection
    (`UnitOfWork.execute`) without SQLAlchemy's per-statement cost, which on the consumers'
    hot paths was larger than the statements' (bench/README.md)."""

    sql: str
    prepare: bool = True
    """False for statements Postgres cannot prepare (SAVEPOINT and other utility commands)."""
    constants: Mapping[str, Any] = field(default_factory=dict)
    """The values the statement itself holds (`status == "paid"`), bound at every run."""
    names: tuple[str, ...] = ()
    """The parameter of each placeholder: `names[0]` is `$1`'s."""

    @classmethod
    def of(cls, statement: ClauseElement, *, columns: Sequence[str] = ()) -> DriverStatement:
        """`statement` compiled; `columns` are the parameters of an INSERT without values."""
        dialect = psycopg_dialect(paramstyle="numeric_dollar")  # type: ignore[no-untyped-call]
        compiled = cast(
            SQLCompiler, statement.compile(dialect=dialect, column_keys=list(columns) or None)
        )
        constants = {
            name: value
            for name, value in compiled.params.items()
            if name in compiled.binds and not compiled.binds[name].required
        }
        return cls(str(compiled), constants=constants, names=tuple(compiled.positiontup or ()))

    def _bound(self, params: Mapping[str, Any] | None) -> list[Any] | None:
        """The values of the placeholders, in order, from `params` and the constants."""
        if not self.names:
            return None
        given = params or {}
        return [given[n] if n in given else self.constants[n] for n in self.names]

    async def execute(
        self, connection: psycopg.AsyncConnection[Any], params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Execute on `connection` (prepared unless told not to); the rows as dicts (none if
        the statement returns no rows)."""
        return await self._run(connection, params, dict_row)

    async def tuples(
        self, connection: psycopg.AsyncConnection[Any], params: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """As `execute`, the rows as tuples (for a reader that takes columns by position)."""
        return await self._run(connection, params, tuple_row)

    async def _run(
        self,
        connection: psycopg.AsyncConnection[Any],
        params: Mapping[str, Any] | None,
        rows: AsyncRowFactory[R],
    ) -> list[R]:
        async with psycopg.AsyncRawCursor(connection, row_factory=rows) as cursor:
            await cursor.execute(self.sql, self._bound(params), prepare=self.prepare)
            return await cursor.fetchall() if cursor.description else []


def json_rows(param: str, name: str, columns: Sequence[tuple[str, Any]]) -> Any:
    """A derived table `name` of the rows that `json_param` encoded into the parameter
    `param`: objects with these columns (name, SQLAlchemy type) and an ordinal `n`. One
    parameter for a set of rows, where an array per column cost the driver several times as
    much to send (see bench/README.md)."""
    return (
        func.jsonb_to_recordset(bindparam(param, type_=JSONB))
        .table_valued(*[column(c, type_) for c, type_ in columns], column("n", Integer))
        .render_derived(name=name, with_types=True)
    )


def json_param(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows as the value of a `json_rows` parameter, each given its ordinal `n` (keys may be
    str subclasses, as SQLAlchemy's column names are)."""
    rows = [{**row, "n": n} for n, row in enumerate(rows)]
    return orjson.dumps(rows, option=orjson.OPT_NON_STR_KEYS).decode()


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One unit of work: commits when the block succeeds, rolls back when it raises."""
    async with sessions() as session, session.begin():
        yield session


def inbox_table(metadata: MetaData) -> Table:
    """Processed message ids per consumer; a row is written in the effect's own transaction."""
    return Table(
        "inbox",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("message_id", String(255), primary_key=True),
        Column("subject", String(255), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def outbox_table(metadata: MetaData) -> Table:
    """Domain events waiting to be relayed to JetStream (Msg-Id = the row id)."""
    return Table(
        "outbox",
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("message_id", String(64), nullable=False, unique=True),
        Column("subject", String(255), nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("headers", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True), nullable=True),
        Column("attempts", BigInteger, nullable=False, server_default=text("0")),
        Index(
            "ix_outbox_unpublished",
            "id",
            postgresql_where=text("published_at IS NULL"),
        ),
    )
