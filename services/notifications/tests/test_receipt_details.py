"""Receipts say what was bought (the tier's or item's name, else its id), a purchase's reference,
when the payment was made (its charge's or invoice's own time, from Stripe's event, not when
the ledger booked it) and where to manage the membership: the ledger's event and Stripe's come
on two streams in either order, and again as new deliveries, and the receipt goes out once.
What Stripe's events told is forgotten once the STRIPE stream no longer keeps them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from notifications.adapters.orm import invoice_attempts, stripe_details
from notifications.adapters.templates import Renderer
from notifications.main import MIGRATIONS
from notifications.service_layer.notifier import Notifier
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork as Unit
from notifications.service_layer.waiting import DETAILS_KEPT, Waits
from tollgate_shared.contracts.ledger import PaymentRecorded
from tollgate_shared.persistence.db import make_engine, make_sessionmaker
from tollgate_shared.testing import unique

from .conftest import Harness, StartService, stripe_example

TIMES = "\N{MULTIPLICATION SIGN}"
"""Between the quantity and the product in the description Stripe gives an invoice line."""
PAID = datetime(2026, 3, 4, 10, 30, tzinfo=UTC)
"""When the payments were made: a day the tests never run on."""


def _subscription_payment(group: str) -> tuple[PaymentRecorded, dict[str, Any]]:
    """A renewal: the ledger's event and the invoice it paid, as `invoice.paid` carries it."""
    user, invoice_id = unique("usr"), unique("in")
    line = f"1 {TIMES} Supporter (at $20.00 / month)"
    recorded = PaymentRecorded(
        user_id=user,
        group_id=group,
        tier_id="tier_supporter",
        amount=2000,
        currency="usd",
        charge_id=unique("ch"),
        invoice_id=invoice_id,
        description=line,
        email=f"{unique('member')}@example.com",
    )
    example = stripe_example("invoice")
    invoice = stripe_example(
        "invoice",
        id=invoice_id,
        status="paid",
        attempt_count=1,
        next_payment_attempt=None,
        status_transitions={**example["status_transitions"], "paid_at": int(PAID.timestamp())},
        lines={**example["lines"], "data": [{**example["lines"]["data"][0], "description": line}]},
        parent={
            "type": "subscription_details",
            "subscription_details": {
                "subscription": unique("sub"),
                "metadata": {"user_id": user, "group_id": group, "tier_id": "tier_supporter"},
            },
        },
    )
    return recorded, invoice


def _purchase(group: str) -> tuple[PaymentRecorded, dict[str, Any]]:
    """A purchase paid through Checkout: the ledger's event (no name: Checkout's intent has no
    description) and its charge, which carries the intent's metadata."""
    user, charge_id = unique("usr"), unique("ch")
    metadata = {
        "user_id": user,
        "group_id": group,
        "purpose": "purchase",
        "item_id": "item_workshop",
        "reference": unique("booking"),
    }
    recorded = PaymentRecorded(
        user_id=user,
        group_id=group,
        amount=4500,
        currency="usd",
        charge_id=charge_id,
        email=f"{unique('buyer')}@example.com",
    )
    charge = stripe_example(
        "charge",
        id=charge_id,
        amount=4500,
        currency="usd",
        status="succeeded",
        created=int(PAID.timestamp()),
        description=None,
        invoice=None,
        metadata=metadata,
    )
    return recorded, charge


async def _deliver(
    svc: Harness, recorded: PaymentRecorded, stripe: tuple[str, dict[str, Any]], *, first: str
) -> None:
    """The ledger's event and Stripe's in the order `first` says (the first applied before the
    second is published), then both again as new deliveries (a replay and Stripe's retry)."""
    if first == "ledger":
        await svc.publish(recorded)
        await svc.applied()
        # Waiting for Stripe's event: nothing recorded yet.
        assert await svc.notifications(user_id=recorded.user_id) == []
        await svc.publish_stripe(*stripe)
    else:
        await svc.publish_stripe(*stripe)
        await svc.applied()
        await svc.publish(recorded)
    await svc.publish(recorded, msg_id=unique("msg"))
    await svc.publish_stripe(*stripe)


async def test_a_receipt_names_what_was_bought_when_it_was_paid_and_where_to_manage_it(
    start_service: StartService,
) -> None:
    # Long enough that a receipt whose Stripe event comes second waits for it.
    async with start_service(mail_details_wait_seconds=60) as svc:
        group = unique("grp")
        await svc.set_contacts(group, f"{unique('org')}@example.com", name="Chess club")
        renewals = [_subscription_payment(group) for _ in range(2)]
        purchases = [_purchase(group) for _ in range(2)]
        for n, (recorded, invoice) in enumerate(renewals):
            first = "ledger" if n == 0 else "stripe"
            await _deliver(svc, recorded, ("invoice.paid", invoice), first=first)
        for n, (recorded, charge) in enumerate(purchases):
            first = "ledger" if n == 0 else "stripe"
            await _deliver(svc, recorded, ("charge.succeeded", charge), first=first)

        for recorded, _ in renewals:
            assert recorded.email is not None
            [mail] = await svc.wait_for_mail(recorded.email, 1)
            assert mail["subject"] == "Receipt: $20.00 to Chess club"
            text, html = mail["text"], mail["html"]
            assert f"For: 1 {TIMES} Supporter (at $20.00 / month)" in text
            assert "Paid on: March 4, 2026" in text and "March 4, 2026" in html
            manage = f"/account/billing?group_id={group}"
            assert f"Manage your membership: http://127.0.0.1:8002{manage}" in text
            assert manage in html and "Reference" not in text
        for recorded, charge in purchases:
            assert recorded.email is not None
            [mail] = await svc.wait_for_mail(recorded.email, 1)
            assert mail["subject"] == "Receipt: $45.00 to Chess club"
            text = mail["text"]
            assert "Item: item_workshop" in text
            assert f"Reference: {charge['metadata']['reference']}" in text
            assert charge["metadata"]["reference"] in mail["html"]
            assert "Paid on: March 4, 2026" in text
            assert "Manage your membership" not in text  # a purchase: no membership
        for recorded, _ in [*renewals, *purchases]:  # once, whatever was delivered again
            assert [n["kind"] for n in await svc.notifications(user_id=recorded.user_id)] == [
                "payment_receipt"
            ]
            assert recorded.email is not None
            assert len(await svc.mail(recorded.email)) == 1


async def test_a_receipt_whose_stripe_event_never_comes_goes_out_without_a_payment_date(
    service: Harness,
) -> None:
    """After `MAIL_DETAILS_WAIT_SECONDS` (0.3 s in tests) it goes out with what the ledger
    said: never the day it was booked as the day it was paid."""
    recorded, _ = _subscription_payment(unique("grp"))
    await service.publish(recorded)
    assert recorded.email is not None
    [mail] = await service.wait_for_mail(recorded.email, 1)
    assert f"For: 1 {TIMES} Supporter" in mail["text"]
    assert "Paid on" not in mail["text"] and "Paid on" not in mail["html"]


async def test_what_stripe_told_is_forgotten_after_the_stripe_streams_retention(
    migrated_database: Callable[[Path], str],
) -> None:
    engine = make_engine(migrated_database(MIGRATIONS))
    units = lambda: Unit(make_sessionmaker(engine))  # noqa: E731
    try:
        async with units() as uow:
            for key in ("ch_old", "ch_new"):
                uow.details.learn(key, {"paid_at": PAID.isoformat()})
            for invoice_id in ("in_old", "in_new"):
                await uow.details.attempted(invoice_id, 1, paid=False)
            await uow.commit()
        async with units() as uow:  # learned a day longer ago than the stream keeps events
            long_ago = datetime.now(UTC) - DETAILS_KEPT - timedelta(days=1)
            await uow.session.execute(
                update(stripe_details)
                .where(stripe_details.c.key == "ch_old")
                .values(as_of=long_ago)
            )
            await uow.session.execute(
                update(invoice_attempts)
                .where(invoice_attempts.c.invoice_id == "in_old")
                .values(as_of=long_ago)
            )
            await uow.commit()
        notifier = Notifier(Renderer("en_US"), mail_domain="tollgate.test")
        waits = Waits(
            units, notifier, interval=1, keep=timedelta(days=7), details_wait=timedelta(0)
        )
        assert await waits.run_once() == 0
        async with units() as uow:
            keys = (await uow.session.scalars(select(stripe_details.c.key))).all()
            invoices = (await uow.session.scalars(select(invoice_attempts.c.invoice_id))).all()
        assert (keys, invoices) == (["ch_new"], ["in_new"])
    finally:
        await engine.dispose()
