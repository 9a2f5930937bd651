from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tollgate_shared.infra.provide import create_database, drop_database
from tollgate_shared.infra.settings import async_url
from tollgate_shared.messaging.outbox import Outbox
from tollgate_shared.persistence.db import (
    inbox_table,
    make_engine,
    make_metadata,
    make_sessionmaker,
    outbox_table,
)
from tollgate_shared.persistence.unit_of_work import UnitOfWork, units_of_work
from tollgate_shared.testing import unique

metadata: MetaData = make_metadata()
INBOX = inbox_table(metadata)
OUTBOX = outbox_table(metadata)
EFFECTS = Table(
    "effects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(255), nullable=False),
    Column("body", String(255), nullable=False),
)


@dataclass
class Db:
    sessions: async_sessionmaker[AsyncSession]
    inbox: Table = INBOX
    outbox: Table = OUTBOX
    effects: Table = EFFECTS
    emitted: Outbox = field(default_factory=lambda: Outbox(OUTBOX))
    """The outbox units of work emit to (`units`), and whose relay they wake."""

    @property
    def units(self) -> Callable[[], UnitOfWork]:
        """Units of work on this database, emitting to `emitted`."""
        return units_of_work(UnitOfWork, self.sessions, outbox=self.emitted)


@pytest.fixture
async def db(database_server_url: str) -> AsyncIterator[Db]:
    """A fresh database with an inbox, an outbox and an `effects` table."""
    name = unique("shared")
    create_database(database_server_url, name)
    url = async_url(database_server_url, database=name)
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield Db(make_sessionmaker(engine))
    await engine.dispose()
    drop_database(database_server_url, name)
