"""Pytest fixtures giving real infrastructure: NATS JetStream, Postgres, migrated databases,
and helpers that publish events as the webhook gateway and the outbox relays do.

Loaded automatically (a `pytest11` entry point). Infrastructure comes from `NATS_URL` /
`DATABASE_URL` if set, else Docker if an engine answers, else the embedded wheels under
`var/test/` (started once per test session, stopped at its end).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx
import nats
import pytest
import uvicorn
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy
from sqlalchemy import Executable, MetaData, NullPool, create_engine, text
from sqlalchemy import inspect as inspect_schema
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tollgate_shared.contracts.base import DomainEvent
from tollgate_shared.infra.nats import start_nats
from tollgate_shared.infra.process import ServerProcess, free_port
from tollgate_shared.infra.provide import Infrastructure, drop_database, provide
from tollgate_shared.infra.settings import DEV_STRIPE_KEY, ServiceSettings, async_url
from tollgate_shared.infra.stripe_client import API_VERSION
from tollgate_shared.messaging.batch import Batch
from tollgate_shared.messaging.broker import connect_and_declare, make_broker
from tollgate_shared.messaging.channels import dead_letters
from tollgate_shared.messaging.consumer import IdempotentConsumer
from tollgate_shared.messaging.message import Delivery, Incoming
from tollgate_shared.messaging.publish import publish_with_ack
from tollgate_shared.messaging.streams import DOMAIN, STRIPE, ConsumerSpec, ensure_streams
from tollgate_shared.messaging.subscriber import declare_consumer
from tollgate_shared.persistence.db import make_engine, make_sessionmaker
from tollgate_shared.persistence.migrations import upgrade
from tollgate_shared.web.auth import issue_token
from tollgate_shared.web.http_timeouts import http_protocol

T = TypeVar("T")


async def wait_until(
    condition: Callable[[], Awaitable[T] | T],
    *,
    timeout: float = 15.0,
    interval: float = 0.05,
    message: str = "condition",
) -> T:
    """Retry `condition` until it returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        result = condition()
        last = await result if inspect.isawaitable(result) else result
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} not met within {timeout}s (last value: {last!r})")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def serve_app(
    app: Any, *, host: str = "127.0.0.1", settings: ServiceSettings | None = None
) -> AsyncIterator[str]:
    """Run an ASGI app under a real uvicorn server on a free port, with the services' HTTP
    protocol and the timeouts of `settings` (default: the environment's); yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=http_protocol(settings or ServiceSettings()),
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        await wait_until(lambda: server.started or task.done(), message="server started")
        if task.done():
            task.result()
            raise RuntimeError("server stopped during start-up")
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await task


def _connection_of(response: httpx.Response) -> tuple[str, int]:
    """The client's end of the connection `response` came over: two responses share it only if
    the server kept the connection open after the first (keep-alive)."""
    address: tuple[str, int] = response.extensions["network_stream"].get_extra_info("client_addr")
    return address


async def refused_keeping_the_connection(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    status: int = 422,
    then: str = "/healthz",
    **request: Any,
) -> dict[str, Any]:
    """Send a request that must be refused: it answers `status` with the error body, and the
    same connection then answers `GET then` with 200 (hostile input neither crashes nor closes
    the connection). The error's code and message."""
    refused = await http.request(method, url, **request)
    assert refused.status_code == status, f"{method} {url[:80]}: {refused.text[:300]}"
    assert "close" not in refused.headers.get("connection", "")
    after = await http.get(then, headers=request.get("headers"))
    assert after.status_code == 200, after.text[:300]
    assert _connection_of(after) == _connection_of(refused), "the connection was closed"
    error: dict[str, Any] = refused.json()["error"]
    assert {"code", "message"} <= set(error)
    return error


@contextlib.asynccontextmanager
async def sessions_on(url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on a service's database, for a test that reads and writes it directly; the
    engine is disposed of when the block ends, however it ends."""
    engine = make_engine(url, pool_size=2)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


def unique(prefix: str) -> str:
    """An id no other test uses, for isolating tests that share a database or stream."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


async def cursor_pages(
    client: httpx.AsyncClient,
    path: str,
    *,
    limit: int,
    items: str = "data",
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> list[list[Any]]:
    """Every page of a list paged with `limit`, `cursor` and `next_cursor`, following the
    cursor with the same `params`; every page is full but the last, which says there is no next
    page (`next_cursor` null)."""
    query = {**(params or {}), "limit": limit}
    pages: list[list[Any]] = []
    while len(pages) < 1000:
        answer = await client.get(path, params=query, headers=headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        pages.append(body[items])
        if body["next_cursor"] is None:
            assert len(pages[-1]) <= limit and (pages[-1] or len(pages) == 1), pages
            return pages
        assert len(pages[-1]) == limit, f"page {len(pages)} of {path} is not full: {pages}"
        query["cursor"] = body["next_cursor"]
    raise AssertionError(f"{path} went on for 1000 pages")


async def offset_pages(
    client: httpx.AsyncClient,
    path: str,
    *,
    limit: int,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> list[list[Any]]:
    """Every page of a list paged with `limit` and `offset` whose body is the page's rows, up
    to the first page that is not full (the last)."""
    pages: list[list[Any]] = []
    while len(pages) < 1000:
        query = {**(params or {}), "limit": limit, "offset": limit * len(pages)}
        answer = await client.get(path, params=query, headers=headers)
        assert answer.status_code == 200, answer.text
        pages.append(answer.json())
        if len(pages[-1]) < limit:
            return pages
    raise AssertionError(f"{path} went on for 1000 pages")


def stripe_event(event_type: str, obj: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A Stripe event envelope around `obj` with a fresh id; `fields` override the envelope's."""
    return {
        "id": unique("evt"),
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "livemode": False,
        "api_version": API_VERSION,
        "data": {"object": obj},
    } | fields


PRE_BASIL_API_VERSION = "2025-01-27.acacia"
"""The last Stripe API version before `2025-03-31.basil` moved invoice fields into `parent`."""

_BASIL_INVOICE_FIELDS = frozenset(
    {"parent", "payments", "amount_overpaid", "customer_account", "total_taxes"}
)
_BASIL_LINE_FIELDS = frozenset({"parent", "pricing", "quantity_decimal", "subtotal", "taxes"})


def pre_basil_invoice(
    invoice: dict[str, Any], *, payment_intent: str | None = None, charge: str | None = None
) -> dict[str, Any]:
    """`invoice` (current API shape) as webhook endpoints on `PRE_BASIL_API_VERSION` get it:
    the subscription, its metadata, the paying intent and charge on the invoice itself
    (`subscription`, `subscription_details`, `payment_intent`, `charge`, `paid`) instead of
    in `parent` and the invoice payments; each line's subscription and price on the line."""
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    lines = invoice.get("lines") or {"data": []}
    old = {k: v for k, v in invoice.items() if k not in _BASIL_INVOICE_FIELDS}
    return old | {
        "subscription": details.get("subscription"),
        "subscription_details": {"metadata": details.get("metadata")},
        "payment_intent": payment_intent,
        "charge": charge,
        "paid": invoice.get("status") == "paid",
        "lines": lines | {"data": [_pre_basil_line(line) for line in lines["data"]]},
    }


def _pre_basil_line(line: dict[str, Any]) -> dict[str, Any]:
    item = (line.get("parent") or {}).get("subscription_item_details") or {}
    price = (line.get("pricing") or {}).get("price_details") or {}
    old = {k: v for k, v in line.items() if k not in _BASIL_LINE_FIELDS}
    return old | {
        "subscription": item.get("subscription") or line.get("subscription"),
        "proration": bool(item.get("proration")),
        "type": "subscription" if item else "invoiceitem",
        "price": {"id": price["price"], "object": "price"} if price.get("price") else None,
    }


async def publish_stripe_event(
    js: JetStreamContext, event: dict[str, Any], *, msg_id: str | None = None
) -> None:
    """Store a Stripe event on STRIPE as the webhook gateway does (`stripe.<type>`, Msg-Id =
    event id); another `msg_id` makes a redelivery that JetStream and the inboxes have not seen."""
    await publish_with_ack(
        js,
        f"stripe.{event['type']}",
        json.dumps(event).encode(),
        msg_id=msg_id or event["id"],
        stream=STRIPE.name,
    )


async def publish_domain_event(
    js: JetStreamContext, event: DomainEvent, *, msg_id: str | None = None
) -> None:
    """Publish a domain event on DOMAIN as its producer's outbox relay does (Msg-Id = event id);
    another `msg_id` makes a redelivery that JetStream and the inboxes have not seen."""
    await publish_with_ack(
        js,
        event.subject,
        event.model_dump_json().encode(),
        msg_id=msg_id or event.id,
        stream=DOMAIN.name,
    )


class RawHandlers:
    """Handlers for tests of the consumer core: one `handler` for every subject the durable
    delivers (`subjects` if given), whose event is the message's `Incoming` itself, and an
    optional `prefetch` of those."""

    def __init__(
        self,
        handler: Callable[[Any, Incoming], Awaitable[None]],
        *,
        subjects: Sequence[str] = (),
        prefetch: Callable[[Any, Sequence[Incoming]], Awaitable[None]] | None = None,
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

    async def prefetch(self, uow: Any, events: Sequence[Incoming]) -> None:
        """The test's prefetch, if any."""
        if self._prefetch is not None and events:
            await self._prefetch(uow, events)

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
    """Whether `durable` on `stream` has nothing left to deliver and nothing awaiting its ack."""
    info = await js.consumer_info(stream, durable)
    idle: bool = info.num_pending == 0 and info.num_ack_pending == 0
    return idle


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


class EmulatorEvents:
    """The Stripe emulator's events, put on STRIPE as the webhook gateway would: each once, in
    the order the emulator created them. Call `take()` first to skip events of earlier tests."""

    def __init__(self, emulator_url: str, js: JetStreamContext) -> None:
        self.emulator_url = emulator_url
        self.js = js
        self.taken: set[str] = set()

    async def all(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """Every event the emulator created (of `event_type`, if given), oldest first."""
        params = {"type": event_type} if event_type else None
        async with httpx.AsyncClient(base_url=self.emulator_url, timeout=30) as http:
            response = await http.get("/_emulator/events", params=params)
        response.raise_for_status()
        events: list[dict[str, Any]] = response.json()
        return events

    async def pending(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """The events not taken yet (of `event_type`, if given), oldest first."""
        return [e for e in await self.all(event_type) if e["id"] not in self.taken]

    async def take(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """The pending events, from now on counted as forwarded without being published (for a
        test that publishes them itself: late, out of order, several times)."""
        events = await self.pending(event_type)
        self.taken.update(e["id"] for e in events)
        return events

    async def forward(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """Publish the pending events (of `event_type`, if given) in order; returns them."""
        events = await self.pending(event_type)
        for event in events:
            await publish_stripe_event(self.js, event)
            self.taken.add(event["id"])
        return events

    async def publish(self, events: list[dict[str, Any]], *, copy: str = "") -> None:
        """Publish `events` in the given order; a `copy` suffix on each Msg-Id makes a
        redelivery that JetStream and the inboxes have not seen."""
        for event in events:
            await publish_stripe_event(self.js, event, msg_id=event["id"] + copy)


@pytest.fixture(scope="session")
def infrastructure(pytestconfig: pytest.Config) -> Iterator[Infrastructure]:
    """NATS and Postgres for the whole test session."""
    root = pytestconfig.rootpath / "var" / "test"
    for stale in root.glob("*"):
        if stale.name.isdigit() and not _alive(int(stale.name)):
            shutil.rmtree(stale, ignore_errors=True)
    var_dir = root / str(os.getpid())
    var_dir.mkdir(parents=True, exist_ok=True)
    infra = provide(var_dir)
    yield infra
    infra.stop()
    shutil.rmtree(var_dir, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture(scope="session")
def nats_url(infrastructure: Infrastructure) -> str:
    """URL of a JetStream-enabled NATS server."""
    return infrastructure.nats_url


@pytest.fixture(scope="module")
def isolated_nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A JetStream server of this test module's own, with empty streams. For modules that run
    services' durable consumers: on the session's server those would first have to work
    through every message earlier tests left on the streams. Override `nats_url` with it."""
    port = free_port()
    server = start_nats(tmp_path_factory.mktemp("nats"), port=port)
    yield f"nats://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="session")
def database_server_url(infrastructure: Infrastructure) -> str:
    """URL of a Postgres server (database `postgres`)."""
    return infrastructure.database_url


@pytest.fixture
async def nats_client(nats_url: str) -> AsyncIterator[NatsClient]:
    """A plain nats-py connection, closed after the test."""
    client = await nats.connect(nats_url)
    yield client
    await client.drain()


@pytest.fixture
async def js(nats_client: NatsClient) -> JetStreamContext:
    """JetStream with Tollgate's streams declared."""
    context = nats_client.jetstream()
    await ensure_streams(context)
    return context


@pytest.fixture
async def broker(nats_url: str) -> AsyncIterator[NatsBroker]:
    """A connected FastStream broker with Tollgate's streams declared, for publishers
    (`messaging.channels`); stopped after the test."""
    connected = make_broker(nats_url, name="test")
    await connect_and_declare(connected)
    yield connected
    await connected.stop()


@pytest.fixture(scope="session")
def migrated_database(
    database_server_url: str,
) -> Iterator[Callable[[Path], str]]:
    """Factory: a fresh database migrated with the Alembic scripts at a path; returns its
    async SQLAlchemy URL. Databases are dropped at the end of the session."""
    created: list[str] = []

    def make(script_location: Path) -> str:
        name = unique("t")
        url = async_url(
            make_url(database_server_url).set(database=name).render_as_string(hide_password=False)
        )
        upgrade(script_location, url)
        created.append(name)
        return url

    yield make
    for name in created:
        drop_database(database_server_url, name)


def schema_drift(url: str, metadata: MetaData) -> list[Any]:
    """How the database at `url` differs from `metadata`: Alembic's autogenerate comparison
    (tables, columns, types, server defaults, indexes, unique constraints and foreign keys),
    plus the primary keys' names, which it leaves out. Empty when they agree."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": True}
            )
            drift: list[Any] = list(compare_metadata(context, metadata))
            inspector = inspect_schema(connection)
            for table in metadata.sorted_tables:
                name = inspector.get_pk_constraint(table.name)["name"]
                if name != table.primary_key.name:
                    drift.append(("primary key name", table.name, name, table.primary_key.name))
    finally:
        engine.dispose()
    return drift


@pytest.fixture(scope="session")
def stripe_emulator_url(infrastructure: Infrastructure) -> Iterator[str]:
    """A Stripe emulator (test mode, test controls on) running as its own process."""
    var_dir = infrastructure.var_dir
    port = free_port()
    server = ServerProcess(
        "stripe-emulator",
        [sys.executable, "-m", "stripe_emulator", "--port", str(port), "--test-mode"],
        log_path=var_dir / "stripe-emulator.log",
    )
    try:
        server.wait_for_port("127.0.0.1", port)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


class MailSink:
    """A running mail sink: send to `smtp_url`, read `GET {http_url}/api/messages`."""

    def __init__(self, smtp_url: str, http_url: str) -> None:
        self.smtp_url = smtp_url
        self.http_url = http_url


@pytest.fixture(scope="session")
def mail_sink(infrastructure: Infrastructure) -> Iterator[MailSink]:
    """A mail sink (SMTP + HTTP, rejects `*@reject.test` with 550) running as its own process."""
    var_dir = infrastructure.var_dir
    smtp_port, http_port = free_port(), free_port()
    server = ServerProcess(
        "mail-sink",
        [
            sys.executable,
            "-m",
            "mail_sink",
            "--smtp-port",
            str(smtp_port),
            "--http-port",
            str(http_port),
        ],
        log_path=var_dir / "mail-sink.log",
    )
    try:
        server.wait_for_port("127.0.0.1", smtp_port)
        server.wait_for_port("127.0.0.1", http_port)
        yield MailSink(f"smtp://127.0.0.1:{smtp_port}", f"http://127.0.0.1:{http_port}")
    finally:
        server.stop()


def log_tails(logs_dir: Path, lines: int = 40) -> str:
    """The end of every `*.log` under `logs_dir`, to explain a failure."""
    parts = []
    for log in sorted(logs_dir.glob("*.log")):
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        parts.append(f"--- {log.name}\n" + "\n".join(tail))
    return "\n".join(parts)


class PlatformClient:
    """What end-to-end and fault tests do to a whole running platform over HTTP. Subclasses
    say where things are (`service`, `emulator`), which secret signs tokens, how long to wait
    (`wait_timeout`, `wait_interval`) and which logs explain a timeout (`logs`)."""

    http: httpx.AsyncClient
    wait_timeout = 30.0
    wait_interval = 0.2

    def service(self, name: str) -> str:
        """The base URL of a service."""
        raise NotImplementedError

    @property
    def emulator(self) -> str:
        """The Stripe emulator's base URL."""
        raise NotImplementedError

    @property
    def jwt_secret(self) -> str:
        """The platform's `AUTH_JWT_SECRET`."""
        raise NotImplementedError

    def logs(self) -> str:
        """What the platform's processes logged last."""
        raise NotImplementedError

    def bearer(self, sub: str, **claims: Any) -> dict[str, str]:
        """Authorization headers with a JWT the platform accepts."""
        return {"Authorization": "Bearer " + issue_token(self.jwt_secret, sub=sub, **claims)}

    async def call(
        self,
        method: str,
        service: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
        expect: int = 200,
    ) -> Any:
        """One request to a service; asserts the status and returns the JSON body."""
        response = await self.http.request(
            method, self.service(service) + path, headers=headers, json=json, params=params
        )
        assert response.status_code == expect, (
            f"{method} {service}{path}: {response.status_code} {response.text}"
        )
        return response.json() if response.content else None

    async def stripe(self, path: str, **params: Any) -> Any:
        """GET a Stripe API resource from the emulator."""
        response = await self.http.get(
            f"{self.emulator}/v1{path}",
            params=params,
            headers={"Authorization": f"Bearer {DEV_STRIPE_KEY}"},
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """POST to an emulator test control (`/_emulator/...`)."""
        response = await self.http.post(f"{self.emulator}/_emulator{path}", json=body or {})
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
        return response.json()

    async def until(
        self, condition: Callable[[], Awaitable[T] | T], *, message: str, timeout: float = 0
    ) -> T:
        """`wait_until` with the platform's deadline; on timeout, the processes' logs."""
        try:
            return await wait_until(
                condition,
                timeout=timeout or self.wait_timeout,
                interval=self.wait_interval,
                message=message,
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.logs()}") from None
