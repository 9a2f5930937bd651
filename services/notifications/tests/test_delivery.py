"""Acceptance: SMTP down for a while, then back; a permanently rejected address fails alone;
a kept connection the server dropped is replaced."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import httpx

from notifications.adapters.smtp import Mail, SmtpMailer, SmtpTarget
from tollgate_shared.events.ledger import PaymentRecorded
from tollgate_shared.infra import Infrastructure
from tollgate_shared.infra.process import ServerProcess, free_port
from tollgate_shared.testing import unique, wait_until


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
        ports = ["--smtp-port", str(smtp_port), "--http-port", str(http_port)]
        sink = ServerProcess(
            "mail-sink-late",
            [sys.executable, "-m", "mail_sink", *ports],
            log_path=infrastructure.var_dir / "mail-sink-late.log",
        )
        try:
            await asyncio.to_thread(sink.wait_for_port, "127.0.0.1", http_port)
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
    ports = ["--smtp-port", str(smtp_port), "--http-port", str(http_port)]

    def start_sink(name: str) -> ServerProcess:
        return ServerProcess(
            name,
            [sys.executable, "-m", "mail_sink", *ports],
            log_path=infrastructure.var_dir / f"{name}.log",
        )

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
    sink = start_sink("mail-sink-first")
    try:
        await asyncio.to_thread(sink.wait_for_port, "127.0.0.1", http_port)
        assert await mailer.send(message(first)) is None  # its connection is kept open
        sink.stop()  # the server goes away and comes back: the kept connection is dead
        sink = start_sink("mail-sink-second")
        await asyncio.to_thread(sink.wait_for_port, "127.0.0.1", http_port)

        assert await mailer.send(message(second)) is None  # over a new connection
        assert await received(second) == [[second]]
        await mailer.close_idle()
    finally:
        sink.stop()
