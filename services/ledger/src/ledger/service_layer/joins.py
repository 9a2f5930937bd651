"""A payment's parts, put together from Stripe's events in whatever order they come.

Stripe tells about one subscription payment in several events, none of which says it all in
API versions since `2025-03-31.basil`: `invoice.paid` whose it is (the subscription's metadata
copied onto the invoice), `invoice_payment.paid` which payment intent paid which invoice, and
`charge.succeeded` the charge of that payment intent (amount, currency, balance transaction,
receipt, payer). A payment-mode Checkout's `checkout.session.completed`, and the
`payment_intent.succeeded` of an intent with metadata of its own (a purchase through the
PaymentIntent endpoint, or a payment-mode Checkout's), tell whose the intent's charge is, so
no payment needs Stripe to have copied metadata from one object to another. Each part is kept
(`adapters/parts.py`) until the last one arrives, which books the payment once and forgets the
parts; nothing is read from Stripe. An event about the charge itself (a refund, a dispute, a
risk item, `charge.refunded`) that comes before its payment is booked is kept as well, and
applied by the event that books it.

Two transactions holding parts of one payment run one after the other, so the later one sees
the earlier's part: each locks the Stripe objects its events name before it starts
(`fetches.prepare`), and any two parts of a payment name one in common (the invoice, the
payment intent, or the customer of an invoice and its charge); booking locks the charge too,
which the events kept for it name (`payments.payment_of`).
"""

from __future__ import annotations

from typing import Any

from ledger.adapters.stripe_gateway import InvoicePayment, PaidCharge, PaidIntent
from ledger.domain.attribution import Attribution
from ledger.service_layer import Deps, Handler, at, disputes, payments, refunds, risk
from ledger.service_layer.payments import (
    EARLY,
    WAITING,
    Hints,
    invoice_attribution,
    keep,
    ours,
)
from ledger.service_layer.unit_of_work import LedgerUnitOfWork
from tollgate_shared.contracts.stripe import StripeEvent
from tollgate_shared.contracts.stripe_objects import CheckoutSession, Invoice

INVOICE, LINK, CHECKOUT, INTENT = "invoice", "invoice_payment", "checkout", "payment_intent"
"""Kinds of parts: an invoice (by its id), the payment intent or charge that paid an invoice
(by that id, partner: the invoice), a checkout's attribution (by its payment intent), a
payment intent's own attribution (by its id)."""
TELLERS = (CHECKOUT, INTENT)
"""The parts that tell whose a payment intent's charge is by its metadata."""

INVOICE_FIELDS = {
    "id",
    "object",
    "created",
    "customer",
    "customer_email",
    "subscription",
    "subscription_details",
    "parent",
    "metadata",
    "hosted_invoice_url",
    "invoice_pdf",
    "lines",
}
"""What a payment takes from its invoice (`payments.book`)."""


async def on_charge(deps: Deps, uow: LedgerUnitOfWork, event: StripeEvent) -> None:
    """`charge.succeeded`: book the charge if its own metadata says whose it is (its payment
    intent's, copied by Stripe: the checkout's or intent's part, if it came first, adds the
    payer's email and is forgotten); else keep it until its invoice, checkout or intent tells."""
    charge = event.object_as(PaidCharge)
    if charge.status != "succeeded" or await uow.books.get_payment(charge.id) is not None:
        return
    key = charge.payment_intent or charge.id
    if Attribution.from_metadata(charge.metadata).known:
        hints, parts = await _hints(uow, key) or (Hints(), [])
        await _book(deps, uow, charge, hints, [*parts, (WAITING, key)], event)
        return
    facts = charge.model_dump(mode="json", exclude_none=True)
    await uow.parts.put(WAITING, key, facts, partner=charge.id)
    await _join(deps, uow, key, event)


async def on_charge_refunded(deps: Deps, uow: LedgerUnitOfWork, event: StripeEvent) -> None:
    """`charge.refunded`: a step of the booked charge's timeline (each refund is booked by its
    own `refund.*` event); a charge not booked yet is a part like `charge.succeeded`'s, and the
    step is taken once it is booked."""
    await on_charge(deps, uow, event)
    charge = event.object_as(PaidCharge)
    if await uow.books.get_payment(charge.id) is None:
        await keep(uow, event, charge.id)  # its timeline's step, once the payment is booked
    else:
        await uow.books.add_timeline(
            event_id=event.id,
            object_id=charge.id,
            charge_id=charge.id,
            event_type=event.type,
            status="refunded" if charge.refunded else "partially_refunded",
            amount=charge.amount_refunded,
            occurred_at=at(event.created),
        )


async def on_invoice_paid(deps: Deps, uow: LedgerUnitOfWork, event: StripeEvent) -> None:
    """Keep the invoice for the member's history and as the part of its payment that says whose
    it is; before `basil` the invoice also names the payment intent or charge that paid it."""
    invoice = event.object_as(Invoice)
    attribution = invoice_attribution(invoice)
    if not ours(event, attribution, "invoice", invoice.id):
        return
    payments.record_invoice(uow, invoice, attribution, status_at=event.created)
    if invoice.amount_paid <= 0 or await uow.books.payment_by_invoice(invoice.id) is not None:
        return
    key = invoice.payment_intent_id or invoice.charge
    if key and (booked := await uow.books.payment_by_key(key)) is not None:
        await uow.books.link_invoice(
            booked.charge_id,
            invoice_id=invoice.id,
            hosted_url=invoice.hosted_invoice_url,
            pdf=invoice.invoice_pdf,
        )
        return
    facts = invoice.model_dump(mode="json", include=INVOICE_FIELDS)
    await uow.parts.put(INVOICE, invoice.id, facts)
    if key:
        await uow.parts.put(LINK, key, {}, partner=invoice.id)
    else:
        key = next((part.key for part in await uow.parts.partnered(LINK, invoice.id)), None)
    if key:
        await _join(deps, uow, key, event)


async def on_invoice_updated(deps: Deps, uow: LedgerUnitOfWork, event: StripeEvent) -> None:
    """Track an invoice's status (a failed payment, a void, a write-off) for the member's
    history."""
    invoice = event.object_as(Invoice)
    attribution = invoice_attribution(invoice)
    if ours(event, attribution, "invoice", invoice.id):
        payments.record_invoice(uow, invoice, attribution, status_at=event.created)


async def on_invoice_payment_paid(deps: Deps, uow: LedgerUnitOfWork, event: StripeEvent) -> None:
    """`invoice_payment.paid`: which payment intent (or charge) paid which invoice. It names no
    group: kept until its invoice says whose it is (or forgotten, `fees.prune`)."""
    paid = event.object_as(InvoicePayment)
    key = paid.payment.payment_intent or paid.payment.charge
    if paid.status != "paid" or not key or not paid.invoice:
        return
    if await uow.books.payment_by_key(key) is not None:
        return
    await uow.parts.put(LINK, key, {}, partner=paid.invoice)
    await _join(deps, uow, key, event)


async def on_checkout_completed(deps: Deps, uow: LedgerUnitOfWork, event: StripeEvent) -> None:
    """A paid payment-mode checkout says whose its payment intent's charge is (subscription
    checkouts are booked through their invoice)."""
    checkout = event.object_as(CheckoutSession)
    if checkout.mode != "payment" or checkout.payment_status != "paid":
        return
    if not ours(event, Attribution.from_metadata(checkout.metadata), "checkout", checkout.id):
        return
    if checkout.payment_intent is not None:
        facts = {"metadata": checkout.metadata, "email": checkout.email}
        await _tell(deps, uow, CHECKOUT, checkout.payment_intent, facts, event)


async def on_intent_succeeded(deps: Deps, uow: LedgerUnitOfWork, event: StripeEvent) -> None:
    """`payment_intent.succeeded` of an intent with metadata of its own (a purchase through the
    PaymentIntent endpoint) says whose its charge is, whatever the charge carries. An intent
    without (a subscription invoice's: its invoice tells; another app's) tells nothing and
    costs nothing."""
    intent = event.object_as(PaidIntent)
    if intent.status == "succeeded" and Attribution.from_metadata(intent.metadata).known:
        facts = {"metadata": intent.metadata, "email": intent.receipt_email}
        await _tell(deps, uow, INTENT, intent.id, facts, event)


async def _tell(
    deps: Deps,
    uow: LedgerUnitOfWork,
    kind: str,
    key: str,
    facts: dict[str, Any],
    event: StripeEvent,
) -> None:
    """Keep the part of `kind` saying whose the charge of payment intent `key` is, unless its
    payment is booked, and book it if its charge has come."""
    if await uow.books.payment_by_key(key) is None:
        await uow.parts.put(kind, key, facts)
        await _join(deps, uow, key, event)


LATER: dict[str, Handler] = {
    "charge": on_charge_refunded,
    "refund": refunds.on_refund_event,
    "dispute": disputes.on_dispute_event,
    "radar.early_fraud_warning": risk.on_early_fraud_warning,
    "review": risk.on_review,
}
"""By the object they are about: handlers of the events kept until their payment is booked."""


async def _hints(uow: LedgerUnitOfWork, key: str) -> tuple[Hints, list[tuple[str, str]]] | None:
    """Whose the payment of `key` is, from its checkout's and its intent's parts or from its
    invoice's, and the parts that told; None while none has come."""
    parts = uow.parts
    tellers = [part for kind in TELLERS if (part := await parts.get(kind, key)) is not None]
    if tellers:
        hints = Hints()
        for part in tellers:
            told = Attribution.from_metadata(part.facts["metadata"])
            email = hints.email or part.facts.get("email")
            hints = Hints(attribution=hints.attribution.or_else(told), email=email)
        return hints, [(part.kind, key) for part in tellers]
    link = await parts.get(LINK, key)
    found = await parts.get(INVOICE, link.partner) if link and link.partner else None
    if link is None or found is None:
        return None
    invoice = Invoice.model_validate(found.facts)
    hints = Hints(attribution=invoice_attribution(invoice), invoice=invoice)
    return hints, [(LINK, key), (INVOICE, invoice.id)]


async def _join(deps: Deps, uow: LedgerUnitOfWork, key: str, event: StripeEvent) -> None:
    """Book the payment of payment intent (or charge) `key` if all its parts have come."""
    waiting = await uow.parts.get(WAITING, key)
    told = await _hints(uow, key) if waiting is not None else None
    if waiting is None or told is None:
        return
    hints, parts = told
    charge = PaidCharge.model_validate(waiting.facts)
    await _book(deps, uow, charge, hints, [*parts, (WAITING, key)], event)


async def _book(
    deps: Deps,
    uow: LedgerUnitOfWork,
    charge: PaidCharge,
    hints: Hints,
    parts: list[tuple[str, str]],
    event: StripeEvent,
) -> None:
    """Book the charge's payment unless it is booked, forget the parts that told it, and apply
    the events kept about the charge until now."""
    await uow.lock(charge.id)  # the events kept for the charge are all in (see the docstring)
    booked = await uow.books.get_payment(charge.id) or await payments.book(
        uow, charge, hints, event
    )
    await uow.parts.drop(parts)
    if booked is not None:
        await _apply_kept(deps, uow, charge.id)


async def _apply_kept(deps: Deps, uow: LedgerUnitOfWork, charge_id: str) -> None:
    """Apply the events about the charge kept while its payment was not booked, in the order
    they came, and forget them."""
    kept = await uow.parts.partnered(EARLY, charge_id)
    for part in kept:
        event = StripeEvent.model_validate(part.facts)
        handler = LATER.get(str(event.data.object.get("object")))
        if handler is not None:
            await handler(deps, uow, event)
    await uow.parts.drop((EARLY, part.key) for part in kept)
