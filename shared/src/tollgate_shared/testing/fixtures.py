"""The plugin's fixtures: NATS, Postgres, migrated databases, the Stripe emulator and the mail
sink, all real (see the package's docstring for where they come from)."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import nats
import pytest
from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from tollgate_shared.infra.nats import start_nats
from tollgate_shared.infra.process import ServerProcess, free_port
from tollgate_shared.infra.provide import Infrastructure, drop_database, provide
from tollgate_shared.infra.settings import async_url
from tollgate_shared.messaging.broker import connect_and_declare, make_broker
from tollgate_shared.messaging.streams import ensure_streams
from tollgate_shared.persistence.migrations import upgrade
from tollgate_shared.testing.core import unique


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
        url = async_url(database_server_url, database=name)
        upgrade(script_location, url)
        created.append(name)
        return url

    yield make
    for name in created:
        drop_database(database_server_url, name)


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
