"""Acceptance: a notification that cannot be rendered or built ends `failed` with its reason
after a bounded number of attempts while the rest of its batch is sent; one whose lease lapsed
on its last attempt ends `failed` too, never `sending` for ever."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select, update

from notifications.adapters.orm import notifications, outbox
from notifications.adapters.smtp import SmtpMailer, SmtpTarget
from notifications.domain.delivery import LAPSED_ON_LAST_ATTEMPT, RetryPolicy
from notifications.domain.model import Intent, Kind, Rendered
from notifications.main import MIGRATIONS
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork as Unit
from tollgate_shared.contracts.ledger import PaymentRecorded
from tollgate_shared.persistence.db import make_engine, make_sessionmaker, transaction
from tollgate_shared.testing import MailSink, unique, wait_until


async def test_unrenderable_and_unaddressable_notifications_fail_and_the_others_are_sent(
    start_service: Any,
) -> None:
    async with start_service(mail_max_attempts=3) as svc:
        user = unique("usr")
        good = [f"{unique('member')}@example.com" for _ in range(2)]
        # Not one address: it would have put a Bcc header in the mail.
        unaddressable = f"{unique('member')}@example.com\r\nBcc: evil@example.com"
        # A period end no date in UTC can show: the receipt's template fails on it.
        unrenderable = f"{unique('member')}@example.com"
        beyond = datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5)))
        for email in [good[0], unaddressable, unrenderable, good[1]]:
            await svc.publish(
                PaymentRecorded(
                    user_id=user,
                    amount=1250,
                    currency="usd",
                    charge_id=unique("ch"),
                    email=email,
                    period_end=beyond if email == unrenderable else None,
                )
            )

        async def settled() -> dict[str, dict[str, Any]] | None:
            rows = await svc.notifications(user_id=user)
            done = len(rows) == 4 and all(r["status"] in ("sent", "failed") for r in rows)
            return {r["recipient"]: r for r in rows} if done else None

        rows = await wait_until(settled, message="four notifications sent or failed")
        for email in good:
            assert rows[email]["status"] == "sent"
            [mail] = await svc.wait_for_mail(email, 1)
            assert mail["subject"] == "Receipt: $12.50 to Tollgate"

        refused = rows[unaddressable.lower()]
        assert (refused["status"], refused["attempts"]) == ("failed", 1)  # never sendable
        assert "not a mail address" in refused["last_error"]
        assert await svc.mail("evil@example.com") == []

        broken = rows[unrenderable]
        assert (broken["status"], broken["attempts"]) == ("failed", 3)  # the retry budget
        assert broken["last_error"].startswith("gave up after 3 attempts: OverflowError")
        assert broken["subject"] is None
        assert await svc.mail(unrenderable) == []


async def test_a_row_recorded_unrendered_is_rendered_by_the_sender_and_a_lapsed_last_lease_fails(
    migrated_database: Callable[[Path], str], mail_sink: MailSink, make_sender: Any
) -> None:
    engine = make_engine(migrated_database(MIGRATIONS))
    sessions = make_sessionmaker(engine)
    lapsed, unrendered = (f"{unique('member')}@example.com" for _ in range(2))
    context = {
        "amount": 990,
        "currency": "eur",
        "description": None,
        "tier_id": None,
        "invoice_id": None,
        "charge_id": None,
        "paid_at": datetime.now(UTC).isoformat(),
        "period_start": None,
        "period_end": None,
        "receipt_url": None,
        "hosted_invoice_url": None,
        "group_url": "https://tollgate.example/groups/g1",
        "group_name": "Chess club",
    }
    try:
        async with Unit(sessions) as uow:
            for address, rendered in [
                (lapsed, Rendered("Receipt", "Thank you.\n", "<p>Thank you.</p>")),
                (unrendered, None),  # as the consumer records one whose rendering failed
            ]:
                intent = Intent(Kind.PAYMENT_RECEIPT, unique("ch"), "usr_1", "g1")
                uow.notifications.record(
                    intent, [address], rendered, context=context, mail_domain="x"
                )
            await uow.commit()
        # A sender leased `lapsed` for its last attempt and stopped before any outcome.
        async with transaction(sessions) as session:
            await session.execute(
                update(notifications)
                .where(notifications.c.recipient == lapsed)
                .values(
                    status="sending",
                    attempts=2,
                    lease_until=datetime.now(UTC) - timedelta(seconds=1),
                )
            )
        mailer = SmtpMailer(SmtpTarget.from_url(mail_sink.smtp_url), timeout=5)
        sender = make_sender(sessions, mailer, policy=RetryPolicy((1.0,), 2))
        assert await sender.send_due() == 2
        await mailer.close_idle()

        async with engine.connect() as conn:
            rows = {r.recipient: r for r in await conn.execute(select(notifications))}
            events = (await conn.execute(select(outbox.c.subject, outbox.c.payload))).all()
        given_up = rows[lapsed]
        assert (given_up.status, given_up.attempts) == ("failed", 2)
        assert given_up.last_error == LAPSED_ON_LAST_ATTEMPT
        assert given_up.lease_until is None
        failed = [json.loads(e.payload) for e in events if e.subject == "notification.failed"]
        assert [(e["recipient"], e["reason"]) for e in failed] == [(lapsed, LAPSED_ON_LAST_ATTEMPT)]

        sent = rows[unrendered]
        assert (sent.status, sent.attempts) == ("sent", 1)
        assert sent.subject == "Receipt: €9.90 to Chess club"  # what was sent, kept
        assert "€9.90" in sent.text_body and "€9.90" in sent.html_body
        async with httpx.AsyncClient(base_url=mail_sink.http_url) as http:
            mail = (await http.get("/api/messages", params={"to": unrendered})).json()
            assert [m["subject"] for m in mail] == [sent.subject]
            assert (await http.get("/api/messages", params={"to": lapsed})).json() == []
    finally:
        await engine.dispose()
