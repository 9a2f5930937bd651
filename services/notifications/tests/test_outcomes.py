"""Writing notifications and outcomes several at a time, against real Postgres: outcomes only
by the sender that still holds the lease, lapsed leases taken over only by a sender the
database has answered for a while; a consumer's deferred writes made together, and read back
before they are."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url

from notifications.adapters import notifications_repo as repo
from notifications.adapters.orm import member_emails
from notifications.adapters.orm import notifications as t
from notifications.adapters.smtp import SmtpMailer, SmtpTarget
from notifications.domain.model import Intent, Kind, Rendered, Status
from notifications.main import MIGRATIONS
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork as Unit
from tollgate_shared.infra.process import free_port
from tollgate_shared.persistence.db import (
    DATABASE_UNAVAILABLE,
    make_engine,
    make_sessionmaker,
    transaction,
)
from tollgate_shared.testing import MailSink, unique


async def test_outcomes_are_recorded_together_unless_the_lease_was_taken_over(
    migrated_database: Callable[[Path], str],
) -> None:
    engine = make_engine(migrated_database(MIGRATIONS))
    sessions = make_sessionmaker(engine)
    rendered = Rendered("Receipt", "text", "<p>html</p>")
    try:
        async with Unit(sessions) as uow:
            for n in range(4):
                intent = Intent(Kind.PAYMENT_RECEIPT, f"ch_{n}", f"usr_{n}", "g1")
                uow.notifications.record(
                    intent, [f"m{n}@example.com"], rendered, context={}, mail_domain="x"
                )
            await uow.commit()
        async with Unit(sessions) as uow:
            sent, retry, failed, lost = sorted(
                await uow.notifications.claim_due(limit=10, lease=300, max_attempts=3),
                key=lambda r: r.source_id,
            )
            # Another sender claimed `lost` again after its lease lapsed.
            await uow.session.execute(
                update(t).where(t.c.id == lost.id).values(attempts=t.c.attempts + 1)
            )
            await uow.commit()
        async with Unit(sessions) as uow:
            recorded = await uow.notifications.settle_many(
                [
                    repo.Attempt(sent, Status.SENT),
                    repo.Attempt(retry, Status.PENDING, retry_in=60.0, reason="421 busy"),
                    repo.Attempt(failed, Status.FAILED, reason="550 no such user"),
                    repo.Attempt(lost, Status.SENT),
                ],
            )
            await uow.commit()
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


async def test_a_sender_takes_over_lapsed_leases_only_once_the_database_answered_it_a_while(
    migrated_database: Callable[[Path], str], mail_sink: MailSink, make_sender: Any
) -> None:
    """Another replica may hold the outcomes of mails it sent during an outage, and records
    them when the database is back: until then their leases may have lapsed, and a sender
    that took them over would send those mails again."""
    url = migrated_database(MIGRATIONS)
    engine = make_engine(url)
    down = make_engine(make_url(url).set(port=free_port()).render_as_string(False))
    sessions = make_sessionmaker(engine)
    mailer = SmtpMailer(SmtpTarget.from_url(mail_sink.smtp_url), timeout=5)
    now = [0.0]
    sender = make_sender(sessions, mailer, takeover_after=30, clock=lambda: now[0])

    async def add(*, held: bool) -> str:
        """A due notification; `held`: leased by another sender, its lease lapsed."""
        address = f"{unique('member')}@example.com"
        intent = Intent(Kind.PAYMENT_RECEIPT, unique("ch"), "usr_1", "g1")
        rendered = Rendered("Receipt", "Thank you.\n", "<p>Thank you.</p>")
        async with Unit(sessions) as uow:
            uow.notifications.record(intent, [address], rendered, context={}, mail_domain="x")
            await uow.commit()
        if held:
            lapsed = datetime.now(UTC) - timedelta(seconds=1)
            async with transaction(sessions) as session:
                await session.execute(
                    update(t)
                    .where(t.c.recipient == address)
                    .values(status=Status.SENDING, attempts=1, lease_until=lapsed)
                )
        return address

    async def status(address: str) -> tuple[str, int]:
        async with engine.connect() as conn:
            row = (await conn.execute(select(t).where(t.c.recipient == address))).one()
        return row.status, row.attempts

    try:
        first, due = await add(held=True), await add(held=False)
        now[0] = 29.0  # the database has answered this new sender for 29 s
        assert await sender.send_due() == 1
        assert (await status(due), await status(first)) == (("sent", 1), ("sending", 1))
        now[0] = 30.0
        assert await sender.send_due() == 1
        assert await status(first) == ("sent", 2)

        held = await add(held=True)
        sessions.configure(bind=down)  # an outage, as this sender finds it at 40 s
        now[0] = 40.0
        with pytest.raises(DATABASE_UNAVAILABLE):
            await sender.send_due()
        sessions.configure(bind=engine)
        now[0] = 69.0
        assert await sender.send_due() == 0
        assert await status(held) == ("sending", 1)
        now[0] = 70.0
        assert await sender.send_due() == 1
        assert await status(held) == ("sent", 2)
        await mailer.close_idle()
        async with httpx.AsyncClient(base_url=mail_sink.http_url) as http:
            for address in (first, due, held):
                assert len((await http.get("/api/messages", params={"to": address})).json()) == 1
    finally:
        await engine.dispose()
        await down.dispose()


async def test_deferred_writes_are_made_together_and_read_back_before_they_are(
    migrated_database: Callable[[Path], str],
) -> None:
    engine = make_engine(migrated_database(MIGRATIONS))
    sessions = make_sessionmaker(engine)
    rendered = Rendered("Receipt", "text", "<p>html</p>")
    early, late, latest = (datetime(2026, 11, d, tzinfo=UTC) for d in (1, 2, 3))
    try:
        async with Unit(sessions) as uow:  # known before: a newer address of usr_b
            uow.directory.remember_email("usr_b", "b-new@example.com", latest)
            await uow.commit()
        async with Unit(sessions) as uow:
            uow.directory.remember_email("usr_a", "a@example.com", late)
            uow.directory.remember_email("usr_a", "a-old@example.com", early)
            uow.directory.remember_email("usr_b", "b-old@example.com", late)
            assert await uow.directory.member_email("usr_a") == "a@example.com"
            assert await uow.directory.member_email("usr_b") == "b-new@example.com"
            intent = Intent(Kind.PAYMENT_RECEIPT, "ch_1", "usr_a", "g1")
            for _ in range(2):  # the same fact twice in one transaction: one row
                uow.notifications.record(
                    intent, ["a@example.com"], rendered, context={}, mail_domain="x"
                )
            async with engine.connect() as other:  # nothing written yet
                assert (await other.execute(select(func.count()).select_from(t))).scalar() == 0
            await uow.commit()
        async with engine.connect() as conn:
            emails = dict(
                (await conn.execute(select(member_emails.c.user_id, member_emails.c.email))).all()
            )
            recorded = (await conn.execute(select(t.c.source_id, t.c.recipient))).all()
        assert emails == {"usr_a": "a@example.com", "usr_b": "b-new@example.com"}
        assert recorded == [("ch_1", "a@example.com")]
    finally:
        await engine.dispose()


async def test_a_failed_unit_of_work_writes_nothing_it_deferred(
    migrated_database: Callable[[Path], str],
) -> None:
    engine = make_engine(migrated_database(MIGRATIONS))
    sessions = make_sessionmaker(engine)
    try:
        with pytest.raises(RuntimeError):
            async with Unit(sessions) as uow:
                uow.directory.remember_email("usr_a", "a@example.com", datetime.now(UTC))
                raise RuntimeError("handler failed")
        async with Unit(sessions) as uow:
            assert await uow.directory.member_email("usr_a") is None
    finally:
        await engine.dispose()
