"""The membership service starts against real Postgres and NATS, migrated, and consumes."""

from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import select

from membership.adapters import orm
from membership.config import Settings
from membership.main import MIGRATIONS, create_app
from tollgate_shared.persistence.db import make_engine, make_sessionmaker
from tollgate_shared.testing import serve_app


async def test_serves_health_and_readiness(
    nats_url: str, migrated_database: Callable[[Path], str]
) -> None:
    url = migrated_database(MIGRATIONS)
    settings = Settings(service_name="membership", nats_url=nats_url, service_database_url=url)
    async with serve_app(create_app(settings)) as base, httpx.AsyncClient(base_url=base) as client:
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/readyz")
        assert ready.json()["checks"] == {"broker": True, "database": True}
        assert (await client.get("/docs")).status_code == 200


async def test_migrations_create_inbox_and_outbox(
    migrated_database: Callable[[Path], str],
) -> None:
    engine = make_engine(migrated_database(MIGRATIONS))
    async with make_sessionmaker(engine)() as session:
        assert (await session.execute(select(orm.inbox))).all() == []
        assert (await session.execute(select(orm.outbox))).all() == []
    await engine.dispose()
