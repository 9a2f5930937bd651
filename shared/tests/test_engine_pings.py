"""A pooled connection is pinged before use only after it sat idle: one in steady use costs no
round trip, and one the server dropped while idle is replaced without failing its caller."""

from collections.abc import AsyncIterator

import psycopg
import pytest
import sqlalchemy.exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tollgate_shared.infra.provide import create_database, drop_database
from tollgate_shared.infra.settings import async_url
from tollgate_shared.persistence import db as persistence
from tollgate_shared.testing import unique


@pytest.fixture
async def db(database_server_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a database of its own, with one pooled connection."""
    name = unique("pings")
    create_database(database_server_url, name)
    engine = persistence.make_engine(async_url(database_server_url, database=name), pool_size=1)
    yield engine
    await engine.dispose()
    drop_database(database_server_url, name)


async def backend(db: AsyncEngine) -> int:
    async with db.connect() as connection:
        return (await connection.execute(text("select pg_backend_pid()"))).scalar_one()


def drop(server: str, pid: int) -> None:
    """The server ends the pooled connection's backend, as a restart would."""
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute("select pg_terminate_backend(%s)", [pid])


async def test_an_idle_connection_the_server_dropped_is_replaced(
    db, database_server_url, monkeypatch
) -> None:
    pid = await backend(db)
    drop(database_server_url, pid)
    monkeypatch.setattr(persistence, "PING_AFTER_IDLE_SECONDS", 0.0)  # every checkout is idle
    assert await backend(db) not in (pid, None)  # the dead one was pinged and replaced


async def test_a_connection_in_steady_use_is_not_pinged(
    db, database_server_url, monkeypatch
) -> None:
    monkeypatch.setattr(persistence, "PING_AFTER_IDLE_SECONDS", 3600.0)
    pid = await backend(db)
    drop(database_server_url, pid)
    # Not pinged: the dead connection fails its one transaction, which invalidates the pool …
    with pytest.raises(sqlalchemy.exc.OperationalError):
        await backend(db)
    # … and the next one gets a fresh connection.
    assert await backend(db) != pid
