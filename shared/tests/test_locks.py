"""Advisory locks taken in one statement and one order (`lock_in_order`)."""

from sqlalchemy import text

from tollgate_shared.db import advisory_key, lock_in_order, transaction
from tollgate_shared.testing import unique

_TRY = text("SELECT pg_try_advisory_xact_lock(:k)")
_HELD = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")


async def test_each_name_is_locked_once_until_the_transaction_ends(db) -> None:
    a, b, free = unique("a"), unique("b"), unique("free")
    async with transaction(db.sessions) as session:
        await lock_in_order(session, [b, a, b])
        await lock_in_order(session, [])
        assert await session.scalar(_HELD) == 2
        async with transaction(db.sessions) as other:
            taken = [await other.scalar(_TRY, {"k": advisory_key(n)}) for n in (a, b, free)]
        assert taken == [False, False, True]
    async with transaction(db.sessions) as other:
        assert await other.scalar(_TRY, {"k": advisory_key(a)}) is True


def test_a_name_has_one_key_everywhere() -> None:
    assert advisory_key("ch_1") == advisory_key("ch_1") != advisory_key("ch_2")
    assert advisory_key("ch_1") == -665507541057714220  # replicas must agree: no per-process hash()
