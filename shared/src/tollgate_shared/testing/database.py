"""A service's database, read and written by a test and held against its models."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, NullPool, create_engine, text
from sqlalchemy import inspect as inspect_schema
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tollgate_shared.persistence.db import make_engine, make_sessionmaker


@contextlib.asynccontextmanager
async def sessions_on(url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on a service's database, for a test that reads and writes it directly; the
    engine is disposed of when the block ends, however it ends."""
    engine = make_engine(url, pool_size=2)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


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


async def count_writes(sessions: async_sessionmaker[AsyncSession], table: str) -> None:
    """From now on, count the statements that insert into (an upsert too) or delete from
    `table` on this database (a trigger; for a test's own database only)."""
    count = f"INSERT INTO {table}_written VALUES (TG_OP)"  # noqa: S608 (a test's own table)
    async with sessions() as session, session.begin():
        for statement in (
            f"CREATE TABLE {table}_written (op text)",
            f"CREATE FUNCTION count_{table}_written() RETURNS trigger LANGUAGE plpgsql AS"
            f" $$ BEGIN {count}; RETURN NULL; END $$",
            f"CREATE TRIGGER {table}_written AFTER INSERT OR DELETE ON {table}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION count_{table}_written()",
        ):
            await session.execute(text(statement))


async def writes(sessions: async_sessionmaker[AsyncSession], table: str) -> dict[str, int]:
    """The statements that wrote `table` since `count_writes`, by operation."""
    async with sessions() as session:
        counted = await session.execute(
            text(f"SELECT op, count(*) FROM {table}_written GROUP BY op")  # noqa: S608
        )
        return {str(op): int(n) for op, n in counted.all()}
