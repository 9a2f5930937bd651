"""Purchases paid in an app's own card form: the ledger's receipt may come before the purchase's
own event that carries the buyer's address (its PaymentIntent carries none), so the receipt
waits for it and goes out once, in either order and under redelivery; organizers hear of each
sale once; a failed payment of one of our intents is mailed once, an invoice's or another app's
intent not at all. The job that addresses waiting receipts takes each once, also when two run
at once, and forgets those that waited too long."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from notifications.adapters.orm import awaiting_address
from notifications.adapters.orm import notifications as t
from notifications.adapters.templates import Renderer
from notifications.domain.model import Intent, Kind
from notifications.main import MIGRATIONS
from notifications.service_layer.notifier import Notifier
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork as Unit
from notifications.service_layer.waiting import Waits
from tollgate_shared.contracts.checkout import PurchasePaid
from tollgate_shared.contracts.ledger import PaymentRecorded
from tollgate_shared.persistence.db import make_engine, make_sessionmaker
from tollgate_shared.testing import unique

from .conftest import Harness


def _purchase(group: str, user: str, email: str) -> tuple[PaymentRecorded, PurchasePaid]:
    """A purchase paid through a PaymentIntent: the ledger's receipt (no address: the intent
    and its charge carry none) and checkout's announcement (with the buyer's address)."""
    intent, amount = unique("pi"), 2500
    recorded = PaymentRecorded(
        user_id=user,
        group_id=group,
        amount=amount,
        currency="usd",
        charge_id=unique("ch"),
        description="Workshop seat",
    )
    paid = PurchasePaid(
        session_id=intent,
        payment_intent_id=intent,
        user_id=user,
        group_id=group,
        item_id="item_workshop",
        reference=unique("booking"),
        amount=amount,
        currency="usd",
        email=email,
    )
    return recorded, paid


async def test_a_receipt_before_the_buyers_address_goes_out_once_it_comes(
    service: Harness,
) -> None:
    group, organizer = unique("grp"), f"{unique('org')}@example.com"
    await service.set_contacts(group, organizer, name="Chess club")
    buyers = [(unique("usr"), f"{unique('buyer')}@example.com") for _ in range(2)]
    for n, (user, email) in enumerate(buyers):
        recorded, paid = _purchase(group, user, email)
        events = [recorded, paid] if n == 0 else [paid, recorded]
        for event in events:
            await service.publish(event)
        for event in reversed(events):  # again, as new deliveries
            await service.publish(event, msg_id=f"{event.id}_again")

    for _, email in buyers:
        [receipt] = await service.wait_for_mail(email, 1)
        assert receipt["subject"] == "Receipt: $25.00 to Chess club", receipt
        assert "Workshop seat" in receipt["text"]
    sales = await service.wait_for_mail(organizer, len(buyers))
    assert sorted(m["subject"] for m in sales) == ["New sale in Chess club: $25.00"] * 2
    for _, email in buyers:
        assert any(email in m["text"] for m in sales), (email, sales)
    for user, email in buyers:  # nothing more once everything is applied and addressed
        records = await service.notifications(user_id=user)
        assert sorted(n["kind"] for n in records) == ["payment_receipt", "sale_notice"]
        assert len(await service.mail(email)) == 1


def _failed_intent(group: str, user: str, email: str | None, **fields: Any) -> dict[str, Any]:
    metadata = {"user_id": user, "group_id": group, "purpose": "purchase", "item_id": "item_1"}
    return {
        "id": unique("pi"),
        "object": "payment_intent",
        "amount": 1800,
        "currency": "eur",
        "status": "requires_payment_method",
        "description": "Workshop seat",
        "receipt_email": email,
        "metadata": {**metadata, "reference": unique("booking")},
        "last_payment_error": {"code": "card_declined", "message": "Your card was declined."},
        **fields,
    }


async def test_a_failed_payment_of_our_intent_is_mailed_once(service: Harness) -> None:
    group, user, email = unique("grp"), unique("usr"), f"{unique('buyer')}@example.com"
    await service.set_contacts(group, f"{unique('org')}@example.com", name="Chess club")
    failed = _failed_intent(group, user, email)
    for obj in (failed, failed, {**failed, "last_payment_error": {"message": "Try again."}}):
        await service.publish_stripe("payment_intent.payment_failed", obj)
    # An invoice's intent (no metadata: its invoice.payment_failed mails) and another app's.
    for metadata in ({}, {"order": "42"}):
        other = _failed_intent(group, user, email, metadata=metadata)
        await service.publish_stripe("payment_intent.payment_failed", other)
    marker = f"{unique('known')}@example.com"
    await service.publish_stripe(
        "payment_intent.payment_failed", _failed_intent(group, unique("usr"), marker)
    )
    await service.wait_for_mail(marker, 1)  # the events before it are applied

    [mail] = await service.mail(email)
    assert mail["subject"] == "Your payment of €18.00 to Chess club failed", mail
    assert "Your card was declined." in mail["text"] and "Workshop seat" in mail["text"]
    [record] = await service.notifications(user_id=user)
    assert (record["kind"], record["source_id"]) == ("purchase_failed", failed["id"])


async def test_waiting_receipts_are_taken_once_and_forgotten_after_a_while(
    migrated_database: Callable[[Path], str],
) -> None:
    engine = make_engine(migrated_database(MIGRATIONS))
    units = lambda: Unit(make_sessionmaker(engine))  # noqa: E731
    notifier = Notifier(Renderer("en_US"), mail_domain="tollgate.test")
    users = ["usr_addressed", "usr_never"]
    try:
        async with units() as uow:
            for user in users:
                receipt = Intent(
                    Kind.PAYMENT_RECEIPT,
                    f"ch_{user}",
                    user,
                    "grp_1",
                    {"amount": 500, "currency": "usd"},
                )
                assert await notifier.notify(uow, receipt) == 0
            await uow.commit()
        waits = Waits(
            units, notifier, interval=1, keep=timedelta(days=7), details_wait=timedelta(0)
        )
        assert await waits.run_once() == 0

        async with units() as uow:
            uow.directory.remember_email(users[0], "a@example.com", datetime.now(UTC))
            await uow.commit()
        # Two replicas at once: the receipt is taken and recorded once.
        assert sorted(await asyncio.gather(waits.run_once(), waits.run_once())) == [0, 1]
        assert await waits.run_once() == 0

        forgetful = Waits(units, notifier, interval=1, keep=timedelta(0), details_wait=timedelta(0))
        assert await forgetful.run_once() == 0
        async with units() as uow:
            uow.directory.remember_email(users[1], "b@example.com", datetime.now(UTC))
            await uow.commit()
        assert await waits.run_once() == 0

        async with units() as uow:
            kept = await uow.session.scalar(select(func.count()).select_from(awaiting_address))
            sent = await uow.session.execute(select(t.c.source_id, t.c.recipient))
            assert (kept, sent.all()) == (0, [("ch_usr_addressed", "a@example.com")])
    finally:
        await engine.dispose()
