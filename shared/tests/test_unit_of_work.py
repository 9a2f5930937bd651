"""The unit of work against real Postgres: locks, deferred writes, savepoints, read-ahead."""

import pytest
from sqlalchemy import select, text

from tollgate_shared.contracts.membership import MembershipActivated
from tollgate_shared.persistence.unit_of_work import Deferred, ReadAhead, UnitOfWork
from tollgate_shared.testing import unique

_TRY = text("SELECT pg_try_advisory_xact_lock(hashtextextended(:name, 0))")
_HELD = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = pg_backend_pid()"
)


async def bodies(db) -> list[str]:
    async with db.sessions() as session:
        return list((await session.execute(select(db.effects.c.body))).scalars())


async def queued_ids(db) -> list[str]:
    async with db.sessions() as session:
        return list((await session.execute(select(db.outbox.c.message_id))).scalars())


async def test_each_name_is_locked_once_until_the_transaction_ends(db) -> None:
    a, b, free = unique("a"), unique("b"), unique("free")
    async with db.units() as uow:
        await uow.lock(b, a, b)
        await uow.lock(a)  # held already: not asked again
        await uow.lock()
        assert await uow.session.scalar(_HELD) == 2
        async with db.units() as other:
            taken = [await other.session.scalar(_TRY, {"name": n}) for n in (a, b, free)]
        assert taken == [False, False, True]
        await uow.commit()
    async with db.units() as other:
        assert await other.session.scalar(_TRY, {"name": a}) is True


async def test_leaving_without_a_commit_rolls_back_what_was_written_and_queued(db) -> None:
    event = MembershipActivated(user_id=unique("u"), group_id="g1", tier_id="t1")
    write = Deferred(list, _write_bodies(db))
    with pytest.raises(RuntimeError):
        async with db.units() as uow:
            await uow.session.execute(db.effects.insert().values(message_id="m", body="now"))
            uow.deferred(write).append("later")
            uow.emit(event)
            uow.after_commit(lambda: pytest.fail("called without a commit"))
            raise RuntimeError("the change failed")
    assert await bodies(db) == []
    assert event.id not in await queued_ids(db)


async def test_deferred_writes_are_made_once_before_the_commit(db) -> None:
    write = Deferred(list, _write_bodies(db))
    async with db.units() as uow:
        uow.deferred(write).append("a")
        uow.deferred(write).append("b")
        assert await uow.session.scalar(select(db.effects.c.body)) is None
        await uow.commit()
    assert await bodies(db) == ["a,b"]


async def test_a_failed_savepoint_drops_its_writes_events_and_locks_alone(db) -> None:
    """What came before a savepoint stays; what a failing one wrote, deferred, emitted, locked
    or asked to do after the commit is undone (its locks are released, so asked for again);
    a savepoint that succeeds writes what it deferred and emitted at its end."""
    write = Deferred(list, _write_bodies(db))
    kept, dropped = (MembershipActivated(user_id=unique("u"), group_id="g1") for _ in range(2))
    name = unique("lock")
    called: list[str] = []
    async with db.units() as uow:
        uow.deferred(write).append("before")
        with pytest.raises(RuntimeError):
            async with uow.savepoint():
                uow.deferred(write).append("failed")
                uow.emit(dropped)
                uow.after_commit(lambda: called.append("failed"))
                await uow.lock(name)
                raise RuntimeError("this message fails")
        assert await uow.session.scalar(_HELD) == 0
        async with uow.savepoint():
            await uow.lock(name)
            uow.deferred(write).append("applied")
            uow.emit(kept)
            uow.after_commit(lambda: called.append("applied"))
        assert await uow.session.scalar(_HELD) == 1
        assert sorted(await _bodies_in(uow, db)) == ["applied", "before"]
        assert called == []
        await uow.commit()
    assert called == ["applied"]
    assert sorted(await bodies(db)) == ["applied", "before"]
    queued = await queued_ids(db)
    assert kept.id in queued and dropped.id not in queued


async def test_read_ahead_answers_each_row_once_from_memory() -> None:
    loads: list[list[str]] = []

    async def load(keys: list[str]) -> dict[str, int]:
        loads.append(keys)
        return {key: len(loads) for key in keys if key != "missing"}

    ahead = ReadAhead(load)
    await ahead.read(["a", "missing"])
    assert await ahead.get("a") == 1  # read ahead
    assert await ahead.get("missing") is None  # read ahead: not there
    assert await ahead.get("a") == 2  # answered once: read again
    assert loads == [["a", "missing"], ["a"]]


def _write_bodies(db):
    async def write(uow: UnitOfWork, queue: list[str]) -> None:
        await uow.session.execute(
            db.effects.insert().values(message_id="deferred", body=",".join(queue))
        )

    return write


async def _bodies_in(uow: UnitOfWork, db) -> list[str]:
    return list((await uow.session.execute(select(db.effects.c.body))).scalars())
