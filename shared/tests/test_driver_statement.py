"""Statements compiled once and run on a unit of work's own psycopg connection."""

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    String,
    bindparam,
    func,
    insert,
    select,
    text,
    update,
)

from tollgate_shared.persistence.db import DriverStatement, json_param, json_rows

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
    async with db.units() as uow:
        await uow.execute(add, {"message_id": "a", "body": "open"})
        await uow.execute(add, {"message_id": "b", "body": "closed"})
        assert await uow.execute(finish, {"m": "a"}) == [{"message_id": "a"}]
        assert await uow.execute(finish, {"m": "b"}) == []  # not "open": untouched
        await uow.commit()
    async with db.units() as uow:
        assert await uow.execute(read, {"m": "a"}) == [{"body": "done"}]
        assert await uow.execute(read, {"m": "b"}) == [{"body": "closed"}]


async def test_utility_statements_run_unprepared(db) -> None:
    savepoint = DriverStatement("SAVEPOINT probe", prepare=False)
    back = DriverStatement("ROLLBACK TO SAVEPOINT probe", prepare=False)
    add = DriverStatement.of(insert(EFFECTS), columns=["message_id", "body"])
    async with db.units() as uow:
        for n in range(8):  # past psycopg's threshold for preparing a repeated statement
            await uow.execute(savepoint)
            await uow.execute(add, {"message_id": f"m{n}", "body": "x"})
            if n % 2:
                await uow.execute(back)
        await uow.commit()
    async with db.units() as uow:
        rows = (await uow.session.execute(select(EFFECTS.c.message_id))).scalars().all()
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
    async with db.units() as uow:
        assert await uow.execute(read, {"items": json_param(items)}) == items
        assert await uow.execute(read, {"items": json_param([])}) == []


async def test_a_unit_of_work_runs_its_statements_in_its_own_transaction(db) -> None:
    """Driver statements and the session's own run in the unit's one transaction; another
    unit has another, and what a unit left without committing is rolled back."""
    xid = DriverStatement("SELECT txid_current() AS xid", prepare=False)
    add = DriverStatement.of(insert(EFFECTS), columns=["message_id", "body"])
    current = select(func.txid_current())
    async with db.units() as uow, db.units() as other:
        first = (await uow.execute(xid))[0]["xid"]
        assert (await uow.execute(xid))[0]["xid"] == first
        assert (await uow.session.execute(current)).scalar() == first
        assert (await other.execute(xid))[0]["xid"] != first
        await other.execute(add, {"message_id": "rolled back", "body": "x"})
        await uow.execute(add, {"message_id": "kept", "body": "x"})
        await uow.commit()
    async with db.units() as uow:
        rows = (await uow.session.execute(select(EFFECTS.c.message_id))).scalars().all()
    assert rows == ["kept"]


async def test_placeholders_are_postgres_own_and_a_parameter_used_twice_is_bound_once(db) -> None:
    """Compiled to `$n` placeholders, which psycopg sends as they are (it would parse its own
    `%(name)s` ones at every run of a statement this long); a `%` in the text is text."""
    add = DriverStatement.of(insert(EFFECTS), columns=["message_id", "body"])
    padding = " OR ".join(f"effects.body = 'never {n}%'" for n in range(150))
    both = DriverStatement.of(
        select(EFFECTS.c.message_id, EFFECTS.c.body).where(
            (EFFECTS.c.message_id == bindparam("m")) | (EFFECTS.c.body == bindparam("m")),
            EFFECTS.c.body.like("%e%") | EFFECTS.c.body.like(bindparam("pattern")),
            text(f"NOT ({padding})"),
        )
    )
    assert len(both.sql) > 4096 and "$1" in both.sql and "%(" not in both.sql
    assert both.names.count("m") == 1
    async with db.units() as uow:
        await uow.execute(add, {"message_id": "one", "body": "free"})
        await uow.execute(add, {"message_id": "two", "body": "two"})
        await uow.execute(add, {"message_id": "three", "body": "never 1%"})
        assert await uow.execute(both, {"m": "two", "pattern": "tw%"}) == [
            {"message_id": "two", "body": "two"}
        ]
        assert await uow.execute(both, {"m": "two", "pattern": "x"}) == []
        assert await uow.execute(both, {"m": "free", "pattern": "x"}) == [
            {"message_id": "one", "body": "free"}
        ]
        assert await uow.execute(both, {"m": "three", "pattern": "never%"}) == []
