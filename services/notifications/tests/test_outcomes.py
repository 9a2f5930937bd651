"""Writing notifications and outcomes several at a time, against real Postgres: outcomes only
by the sender that still holds the lease; a consumer's deferred writes made together, and
read back before they are."""

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from notifications.adapters import directory
from notifications.adapters import notifications_repo as repo
from notifications.adapters.deferred import deferred, pending
from notifications.adapters.orm import member_emails
from notifications.adapters.orm import notifications as t
from notifications.domain.model import Intent, Kind, Rendered, Status
from notifications.main import MIGRATIONS
from tollgate_shared.db import make_engine, make_sessionmaker, transaction


async def test_outcomes_are_recorded_together_unless_the_lease_was_taken_over(
    migrated_database: Callable[[Path], str],
) -> None:
    engine = make_engine(migrated_database(MIGRATIONS))
    sessions = make_sessionmaker(engine)
    rendered = Rendered("Receipt", "text", "<p>html</p>")
    try:
        async with transaction(sessions) as session:
            for n in range(4):
                intent = Intent(Kind.PAYMENT_RECEIPT, f"ch_{n}", f"usr_{n}", "g1")
                await repo.record(
                    session, intent, [f"m{n}@example.com"], rendered, context={}, mail_domain="x"
                )
        async with transaction(sessions) as session:
            sent, retry, failed, lost = sorted(
                await repo.claim_due(session, limit=10, lease=300, max_attempts=3),
                key=lambda r: r.source_id,
            )
            # Another sender claimed `lost` again after its lease lapsed.
            await session.execute(
                update(t).where(t.c.id == lost.id).values(attempts=t.c.attempts + 1)
            )
        async with transaction(sessions) as session:
            recorded = await repo.settle_many(
                session,
                [
                    repo.Attempt(sent, Status.SENT),
                    repo.Attempt(retry, Status.PENDING, retry_in=60.0, reason="421 busy"),
                    repo.Attempt(failed, Status.FAILED, reason="550 no such user"),
                    repo.Attempt(lost, Status.SENT),
                ],
            )
        assert recorded == {sent.id, retry.id, failed.id}
        async with engine.connect() as conn:
            rows = {r.source_id: r for r in await conn.execute(select(t))}
        assert rows["ch_0"].status == "sent"
        assert rows["ch_0"].sent_at is not None
        assert rows["ch_0"].last_error is None
        assert rows["ch_0"].lease_until is None
        assert rows["ch_1"].status == "pending"
        assert rows["ch_1"].last_error == "421 busy"
        assert (rows["ch_1"].next_attempt_at - rows["ch_1"].updated_at).total_seconds() == 60
        assert rows["ch_1"].sent_at is None
        assert rows["ch_2"].status == "failed"
        assert rows["ch_2"].last_error == "550 no such user"
        assert rows["ch_2"].sent_at is None
        # The row taken over keeps the other sender's lease.
        assert rows["ch_3"].status == "sending"
        assert rows["ch_3"].attempts == 2
        assert rows["ch_3"].lease_until is not None
    finally:
        await engine.dispose()


async def test_deferred_writes_are_made_together_and_read_back_before_they_are(
    migrated_database: Callable[[Path], str],
) -> None:
    engine = make_engine(migrated_database(MIGRATIONS))
    sessions = make_sessionmaker(engine)
    rendered = Rendered("Receipt", "text", "<p>html</p>")
    early, late, latest = (datetime(2026, 11, d, tzinfo=UTC) for d in (1, 2, 3))
    try:
        async with transaction(sessions) as session:  # known before: a newer address of usr_b
            await directory.remember_email(session, "usr_b", "b-new@example.com", latest)
        async with transaction(sessions) as session, deferred(session):
            await directory.remember_email(session, "usr_a", "a@example.com", late)
            await directory.remember_email(session, "usr_a", "a-old@example.com", early)
            await directory.remember_email(session, "usr_b", "b-old@example.com", late)
            assert await directory.member_email(session, "usr_a") == "a@example.com"
            assert await directory.member_email(session, "usr_b") == "b-new@example.com"
            intent = Intent(Kind.PAYMENT_RECEIPT, "ch_1", "usr_a", "g1")
            for _ in range(2):  # the same fact twice in one transaction: one row
                await repo.record(
                    session, intent, ["a@example.com"], rendered, context={}, mail_domain="x"
                )
            async with engine.connect() as other:  # nothing written yet
                assert (await other.execute(select(func.count()).select_from(t))).scalar() == 0
        async with engine.connect() as conn:
            emails = dict(
                (await conn.execute(select(member_emails.c.user_id, member_emails.c.email))).all()
            )
            recorded = (await conn.execute(select(t.c.source_id, t.c.recipient))).all()
        assert emails == {"usr_a": "a@example.com", "usr_b": "b-new@example.com"}
        assert recorded == [("ch_1", "a@example.com")]
    finally:
        await engine.dispose()


async def test_a_failed_deferred_block_writes_nothing(
    migrated_database: Callable[[Path], str],
) -> None:
    engine = make_engine(migrated_database(MIGRATIONS))
    sessions = make_sessionmaker(engine)
    try:
        with pytest.raises(RuntimeError):
            async with transaction(sessions) as session, deferred(session):
                await directory.remember_email(session, "usr_a", "a@example.com", datetime.now(UTC))
                raise RuntimeError("handler failed")
        async with transaction(sessions) as session:
            assert await directory.member_email(session, "usr_a") is None
            assert pending(session) is None
    finally:
        await engine.dispose()
