"""Acceptance: one receipt per payment, although every payment's event arrives three times and
the service is SIGKILLed and restarted while it is consuming and sending."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nats.js import JetStreamContext
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from notifications.adapters.orm import notifications
from notifications.main import MIGRATIONS
from tollgate_shared.contracts.ledger import PaymentRecorded
from tollgate_shared.infra.process import ServerProcess
from tollgate_shared.infra.provide import Infrastructure
from tollgate_shared.messaging.streams import DOMAIN
from tollgate_shared.persistence.db import make_engine
from tollgate_shared.testing import MailSink, consumer_idle, unique, wait_until

from .conftest import ready, service_process

PAYMENTS = 40


async def _count(engine: AsyncEngine, recipients: list[str], status: str) -> int:
    query = select(func.count()).where(
        notifications.c.recipient.in_(recipients), notifications.c.status == status
    )
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def _kill_outside_the_send_window(
    server: ServerProcess, engine: AsyncEngine, to: list[str]
) -> bool:
    """SIGKILL the service while nothing of ours is between SMTP accept and its outcome's
    commit (the documented at-least-once window): freeze it, look, then kill or thaw."""
    server.proc.send_signal(signal.SIGSTOP)
    if await _count(engine, to, "sending") == 0:
        server.proc.kill()
        server.proc.wait()
        return True
    server.proc.send_signal(signal.SIGCONT)
    return False


async def test_one_receipt_per_payment_through_redelivery_and_a_kill(
    nats_url: str,
    js: JetStreamContext,
    mail_sink: MailSink,
    migrated_database: Callable[[Path], str],
    infrastructure: Infrastructure,
    service_env: Callable[[str, str], dict[str, str]],
    harness: Any,
) -> None:
    database_url = migrated_database(MIGRATIONS)
    # Small send batches, and a second between looks for due receipts once a batch was not
    # full: the kill must find receipts both sent and still to send.
    env = {
        **os.environ,
        **service_env(database_url, mail_sink.smtp_url),
        "MAIL_BATCH_SIZE": "4",
        "MAIL_POLL_INTERVAL": "1.0",
    }
    engine = make_engine(database_url)
    run = unique("pay")
    payers = [f"{run}-{i}@example.com" for i in range(PAYMENTS)]
    payments = [
        PaymentRecorded(
            user_id=f"{run}-{i}",
            group_id=unique("grp"),
            amount=1000 + i,
            currency="usd",
            charge_id=f"ch_{run}_{i}",
            email=payers[i],
        )
        for i in range(PAYMENTS)
    ]
    log = infrastructure.var_dir / "notifications-kill.log"

    first, base_url = service_process(env, log)
    try:
        await wait_until(lambda: ready(base_url), timeout=30, message="first instance ready")
        first_few, rest = payments[:3], payments[3:]
        for payment in first_few:  # delivered once, then replayed under other message ids
            await harness.publish(payment)
            await harness.publish(payment, msg_id=f"{payment.id}:replayed")
        await wait_until(
            lambda: _count(engine, payers, "sent"),
            timeout=30,
            interval=0.01,
            message="a first receipt sent",
        )
        # The sender sent a batch that was not full and waits before it looks again: the rest
        # arrive meanwhile, and are being consumed or waiting to be sent when the kill comes.
        for payment in rest:
            await harness.publish(payment)
        for payment in rest:
            await harness.publish(payment, msg_id=f"{payment.id}:replayed")
        await wait_until(
            lambda: _kill_outside_the_send_window(first, engine, payers),
            interval=0.01,
            message="a kill outside the send window",
        )
    finally:
        first.stop()
    sent_before_restart = await _count(engine, payers, "sent")
    unconsumed_at_kill = not await consumer_idle(js, DOMAIN.name, env["NOTIFICATIONS_CONSUMER"])

    second, base_url = service_process(env, log)
    try:
        await wait_until(lambda: ready(base_url), timeout=30, message="second instance ready")
        for payment in payments:  # the same facts again, as new events
            again = PaymentRecorded.model_validate(payment.model_dump(exclude={"id"}))
            await harness.publish(again)
        await wait_until(
            lambda: consumer_idle(js, DOMAIN.name, env["NOTIFICATIONS_CONSUMER"]),
            timeout=30,
            message="every event consumed",
        )
        await wait_until(
            lambda: _count_equals(engine, payers, PAYMENTS), timeout=30, message="all receipts sent"
        )
        mail = [m for payer in payers for m in await harness.mail(to=payer)]
    finally:
        second.stop()
        await engine.dispose()

    assert sent_before_restart < PAYMENTS or unconsumed_at_kill, "the kill was to be mid-stream"
    per_payer = {payer: [m for m in mail if m["to"] == [payer]] for payer in payers}
    assert {payer: len(ms) for payer, ms in per_payer.items()} == dict.fromkeys(payers, 1)
    for i, payer in enumerate(payers):
        assert f"${(1000 + i) / 100:.2f}" in per_payer[payer][0]["subject"]


async def _count_equals(engine: AsyncEngine, payers: list[str], expected: int) -> bool:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(notifications.c.status, func.count())
            .where(notifications.c.recipient.in_(payers))
            .group_by(notifications.c.status)
        )
        return dict(rows.all()) == {"sent": expected}
