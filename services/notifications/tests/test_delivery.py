"""Acceptance: SMTP down for a while, then back; a permanently rejected address fails alone;
a kept connection the server dropped is replaced; connections are kept while full sending
batches follow each other and ended when the sender goes idle."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from notifications.adapters.orm import notifications
from notifications.adapters.smtp import Mail, SmtpMailer, SmtpTarget
from notifications.domain.delivery import DeliveryFailure
from notifications.domain.model import Intent, Kind, Rendered
from notifications.main import MIGRATIONS
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork as Unit
from tollgate_shared.contracts.ledger import PaymentRecorded
from tollgate_shared.infra.process import free_port
from tollgate_shared.infra.provide import Infrastructure
from tollgate_shared.persistence.db import make_engine, make_sessionmaker
from tollgate_shared.testing import MailSink, unique, wait_until

from .conftest import start_sink


async def test_retries_through_an_outage_and_fails_a_rejected_address_alone(
    start_service: Any, infrastructure: Infrastructure
) -> None:
    smtp_port, http_port = free_port(), free_port()
    # Credentials in the URL: the client logs in (the sink accepts any login).
    smtp_url = f"smtp://notify%40tollgate:s3cret@127.0.0.1:{smtp_port}"
    async with start_service(smtp_url=smtp_url, sink_url=f"http://127.0.0.1:{http_port}") as svc:
        good = [f"{unique('member')}@example.com" for _ in range(3)]
        rejected = f"{unique('member')}@reject.test"
        for email in [*good, rejected]:
            await svc.publish(
                PaymentRecorded(
                    user_id=unique("usr"),
                    group_id=unique("grp"),
                    amount=4200,
                    currency="eur",
                    charge_id=unique("ch"),
                    email=email,
                )
            )

        async def retried_while_down() -> bool:
            rows = [await svc.notifications(recipient=e) for e in [*good, rejected]]
            return all(
                r["status"] == "pending" and r["attempts"] >= 2 and "Connect" in r["last_error"]
                for [r] in filter(None, rows)
            ) and all(rows)

        await wait_until(retried_while_down, message="failed attempts while SMTP is down")
        sink = await start_sink(
            infrastructure, "mail-sink-late", smtp_port=smtp_port, http_port=http_port
        )
        try:
            for email in good:
                [mail] = await svc.wait_for_mail(email, 1)
                assert "€42.00" in mail["subject"]

            async def failed_for_good() -> dict[str, Any] | None:
                [row] = await svc.notifications(recipient=rejected)
                return row if row["status"] == "failed" else None

            row = await wait_until(failed_for_good, message="the rejected address failed")
            assert "550" in row["last_error"]
            assert await svc.mail(rejected) == []
            statuses = {(await svc.notifications(recipient=e))[0]["status"] for e in good}
            assert statuses == {"sent"}
        finally:
            sink.stop()


async def test_a_kept_connection_the_server_dropped_is_replaced_without_a_failed_send(
    infrastructure: Infrastructure,
) -> None:
    smtp_port, http_port = free_port(), free_port()
    ports = {"smtp_port": smtp_port, "http_port": http_port}

    def message(to: str) -> Mail:
        content = f"From: tollgate@example.com\r\nTo: {to}\r\nSubject: hello\r\n\r\nhello\r\n"
        return Mail("tollgate@example.com", to, content.encode())

    async def received(to: str) -> list[str]:
        async with httpx.AsyncClient() as http:
            answer = await http.get(f"http://127.0.0.1:{http_port}/api/messages", params={"to": to})
        answer.raise_for_status()
        return [mail["to"] for mail in answer.json()]

    mailer = SmtpMailer(SmtpTarget.from_url(f"smtp://127.0.0.1:{smtp_port}"), timeout=5)
    first, second = (f"{unique('member')}@example.com" for _ in range(2))
    sink = await start_sink(infrastructure, "mail-sink-first", **ports)
    try:
        assert await mailer.send(message(first)) is None  # its connection is kept open
        sink.stop()  # the server goes away and comes back: the kept connection is dead
        sink = await start_sink(infrastructure, "mail-sink-second", **ports)

        assert await mailer.send(message(second)) is None  # over a new connection
        assert await received(second) == [[second]]
        await mailer.close_idle()
    finally:
        sink.stop()


class _Watched:
    """The real mailer, with what the sender asked of it in order."""

    def __init__(self, mailer: SmtpMailer) -> None:
        self.mailer = mailer
        self.calls: list[str] = []

    async def send(self, mail: Mail) -> DeliveryFailure | None:
        self.calls.append("send")
        return await self.mailer.send(mail)

    async def close_idle(self) -> None:
        self.calls.append("close")
        await self.mailer.close_idle()


async def test_connections_are_kept_across_full_batches_and_ended_when_idle(
    migrated_database: Callable[[Path], str], mail_sink: MailSink, make_sender: Any
) -> None:
    engine = make_engine(migrated_database(MIGRATIONS))
    sessions = make_sessionmaker(engine)
    recipients = [f"{unique('member')}@example.com" for _ in range(5)]
    async with Unit(sessions) as uow:
        for n, address in enumerate(recipients):
            intent = Intent(Kind.PAYMENT_RECEIPT, unique("ch"), f"usr_{n}", "g1")
            rendered = Rendered("Receipt", "Thank you.\n", "<p>Thank you.</p>")
            uow.notifications.record(intent, [address], rendered, context={}, mail_domain="x")
        await uow.commit()
    mailer = _Watched(SmtpMailer(SmtpTarget.from_url(mail_sink.smtp_url), timeout=5))
    sender = make_sender(sessions, mailer, batch_size=2, concurrency=1)

    async def all_sent() -> bool:
        async with engine.connect() as conn:
            query = select(func.count()).where(notifications.c.status == "sent")
            return (await conn.scalar(query)) == len(recipients)

    running = asyncio.create_task(sender.run())
    try:
        await wait_until(all_sent, timeout=20)
        await wait_until(lambda: "close" in mailer.calls, timeout=5)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await mailer.close_idle()
        await engine.dispose()
    # Batches of 2, 2 and 1: the two full ones keep their connection for the next, the last
    # one (not full: the sender goes idle) ends it.
    assert mailer.calls[: mailer.calls.index("close")] == ["send"] * 5
    async with httpx.AsyncClient(base_url=mail_sink.http_url) as http:
        for address in recipients:
            answer = await http.get("/api/messages", params={"to": address})
            assert [m["to"] for m in answer.json()] == [[address]]
