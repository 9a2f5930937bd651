"""Statements compiled once and run on a session's own psycopg connection."""

from sqlalchemy import bindparam, insert, select, update

from tollgate_shared.db import DriverStatement, transaction

from .conftest import EFFECTS


async def test_parameters_constants_and_rows(db) -> None:
    add = DriverStatement.of(insert(EFFECTS), columns=["message_id", "body"])
    # "done" is a value the statement holds itself: bound at every run.
    finish = DriverStatement.of(
        update(EFFECTS)
        .where(EFFECTS.c.message_id == bindparam("m"), EFFECTS.c.body == "open")
        .values(body="done")
        .returning(EFFECTS.c.message_id)
    )
    read = DriverStatement.of(select(EFFECTS.c.body).where(EFFECTS.c.message_id == bindparam("m")))
    async with transaction(db.sessions) as session:
        await add.run(session, {"message_id": "a", "body": "open"})
        await add.run(session, {"message_id": "b", "body": "closed"})
        assert await finish.run(session, {"m": "a"}) == [{"message_id": "a"}]
        assert await finish.run(session, {"m": "b"}) == []  # not "open": untouched
    async with transaction(db.sessions) as session:
        assert await read.run(session, {"m": "a"}) == [{"body": "done"}]
        assert await read.run(session, {"m": "b"}) == [{"body": "closed"}]


async def test_utility_statements_run_unprepared(db) -> None:
    savepoint = DriverStatement("SAVEPOINT probe", prepare=False)
    back = DriverStatement("ROLLBACK TO SAVEPOINT probe", prepare=False)
    add = DriverStatement.of(insert(EFFECTS), columns=["message_id", "body"])
    async with transaction(db.sessions) as session:
        for n in range(8):  # past psycopg's threshold for preparing a repeated statement
            await savepoint.run(session)
            await add.run(session, {"message_id": f"m{n}", "body": "x"})
            if n % 2:
                await back.run(session)
    async with transaction(db.sessions) as session:
        rows = (await session.execute(select(EFFECTS.c.message_id))).scalars().all()
    assert sorted(rows) == ["m0", "m2", "m4", "m6"]
