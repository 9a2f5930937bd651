"""Statements compiled once and run on a session's own psycopg connection."""

from datetime import UTC, datetime

from sqlalchemy import BigInteger, DateTime, String, bindparam, func, insert, select, update

from tollgate_shared.db import DriverStatement, json_param, json_rows, transaction

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


async def test_json_rows_carry_a_set_of_typed_rows_in_one_parameter(db) -> None:
    columns = [("key", String()), ("amount", BigInteger()), ("at", DateTime(timezone=True))]
    rows = json_rows("items", "r", columns)
    read = DriverStatement.of(select(rows.c.key, rows.c.amount, rows.c.at).order_by(rows.c.n))
    at = datetime(2026, 11, 1, 12, 30, tzinfo=UTC)
    items = [
        {"key": "b", "amount": 2**40, "at": at},
        {"key": "a", "amount": -5, "at": None},
        {"key": "c'; --", "amount": 0, "at": at},
    ]
    async with transaction(db.sessions) as session:
        assert await read.run(session, {"items": json_param(items)}) == items
        assert await read.run(session, {"items": json_param([])}) == []


async def test_each_transaction_of_a_session_runs_statements_on_its_own_connection(db) -> None:
    """The driver connection is looked up once per transaction: a session that commits and
    goes on runs its next statements in its next transaction, on whichever connection that
    has, not on the one it released (here taken by another session meanwhile)."""
    xid = DriverStatement("SELECT txid_current() AS xid", prepare=False)
    add = DriverStatement.of(insert(EFFECTS), columns=["message_id", "body"])
    current = select(func.txid_current())
    async with db.sessions() as session, db.sessions() as other:
        async with session.begin():
            first = (await xid.run(session))[0]["xid"]
            assert (await xid.run(session))[0]["xid"] == first
            assert (await session.execute(current)).scalar() == first
        async with other.begin():
            await other.execute(current)  # likely the connection `session` just released
            async with session.begin():
                second = (await xid.run(session))[0]["xid"]
                assert second != first
                assert (await session.execute(current)).scalar() == second
                await add.run(session, {"message_id": "rolled back", "body": "x"})
                await session.rollback()
            async with session.begin():
                await add.run(session, {"message_id": "kept", "body": "x"})
    async with transaction(db.sessions) as session:
        rows = (await session.execute(select(EFFECTS.c.message_id))).scalars().all()
    assert rows == ["kept"]
