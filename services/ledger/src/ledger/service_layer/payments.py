"""Booking payments: one per charge, from what Stripe's events carry about it.

A payment is booked once its charge (`charge.succeeded`: amount, currency, balance
transaction, receipt, payer) and whose it is are both known: the charge's own metadata, its
checkout's, or its invoice's (`joins.py` puts them together, in whatever order they come). Its
fee is booked when the fee task has read it (`fees.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ledger.adapters.stripe_gateway import PaidCharge
from ledger.domain.attribution import Attribution
from ledger.domain.payments import Payment
from ledger.domain.transactions import event_id
from ledger.service_layer import at
from ledger.service_layer.unit_of_work import LedgerUnitOfWork
from tollgate_shared.contracts.ledger import PaymentRecorded
from tollgate_shared.contracts.stripe import StripeEvent
from tollgate_shared.contracts.stripe_objects import Invoice
from tollgate_shared.messaging.foreign import ignore_foreign

SERVICE = "ledger"
EARLY = "event"
"""The kind of part an event about a charge whose payment is not booked yet is kept as (by
its event id; partner: the charge)."""
WAITING = "charge"
"""The kind of part a charge waiting for whose it is is kept as (partner: the charge)."""


@dataclass(frozen=True)
class Hints:
    """What the other events of a payment tell about it besides its charge."""

    attribution: Attribution = field(default_factory=Attribution)
    invoice: Invoice | None = None
    email: str | None = None


def invoice_attribution(invoice: Invoice) -> Attribution:
    """Whose an invoice is: its subscription's metadata as copied onto it, else its own."""
    return Attribution.from_metadata(invoice.subscription_metadata).or_else(
        Attribution.from_metadata(invoice.metadata)
    )


async def book(
    uow: LedgerUnitOfWork, charge: PaidCharge, hints: Hints, event: StripeEvent
) -> Payment | None:
    """Book the charge's payment (its gross, and its fee only if the charge carries it) unless
    its charge is booked, announcing it if booked now; None if it is nobody's of ours or did
    not succeed."""
    attribution = hints.attribution.or_else(Attribution.from_metadata(charge.metadata))
    invoice = hints.invoice
    if invoice is not None:
        attribution = attribution.or_else(invoice_attribution(invoice))
    if not attribution.known or charge.status != "succeeded":
        return None
    payment = Payment(
        charge_id=charge.id,
        attribution=attribution,
        amount=charge.amount,
        fee=charge.fee,
        currency=charge.currency.lower(),
        created_at=at(charge.created),
        balance_transaction_id=charge.balance_transaction_id,
        payment_intent_id=charge.payment_intent,
        invoice_id=invoice.id if invoice else charge.invoice,
        customer_id=charge.customer,
        email=charge.email or hints.email or (invoice.customer_email if invoice else None),
        description=_description(charge, invoice),
        receipt_url=charge.receipt_url,
        hosted_invoice_url=invoice.hosted_invoice_url if invoice else None,
        invoice_pdf=invoice.invoice_pdf if invoice else None,
        **_subscription_period(invoice),
    )
    if await uow.books.post(*payment.transactions(), causation_id=event.id, payment=payment):
        uow.emit(_recorded(payment, event.id))
    return payment


async def payment_of(
    uow: LedgerUnitOfWork, event: StripeEvent, charge_id: str | None
) -> Payment | None:
    """The booked payment of the charge `event` is about (a refund, dispute or risk item), never
    reading Stripe. Until that payment is booked `event` is kept (its charge's own events may
    come after it) and applied once it is (`joins.py`); another app's are never booked, and
    are forgotten after the retention (`fees.prune`). An event naming no charge is ignored."""
    payment = await uow.books.get_payment(charge_id) if charge_id else None
    if payment is None and charge_id:
        await keep(uow, event, charge_id)
    elif payment is None:
        ignore_foreign(SERVICE, event, "it names no charge")
    return payment


async def keep(uow: LedgerUnitOfWork, event: StripeEvent, charge_id: str) -> None:
    """Keep `event` about the charge until its payment is booked (once per event id: a
    duplicate replaces it)."""
    await uow.parts.put(EARLY, event.id, event.model_dump(mode="json"), partner=charge_id)


def _description(charge: PaidCharge, invoice: Invoice | None) -> str | None:
    if invoice is not None:
        lines = [line.description for line in invoice.lines.data if line.description]
        if lines:
            return "; ".join(lines)
    return charge.description


def _subscription_period(invoice: Invoice | None) -> dict[str, datetime]:
    """The period a subscription invoice bills: from its lines' earliest start to latest end."""
    if invoice is None or invoice.subscription_id is None:
        return {}
    periods = [line.period for line in invoice.lines.data if line.period]
    if not periods:
        return {}
    return {
        "period_start": at(min(p.start for p in periods)),
        "period_end": at(max(p.end for p in periods)),
    }


def _recorded(payment: Payment, causation_id: str) -> PaymentRecorded:
    """`ledger.payment_recorded`, once per charge: its `fee` is 0 while the fee is unknown."""
    return PaymentRecorded(
        id=event_id("payment_recorded", payment.charge_id),
        causation_id=causation_id,
        group_id=payment.group_id,
        user_id=payment.attribution.user_id,
        tier_id=payment.attribution.tier_id,
        amount=payment.amount,
        currency=payment.currency,
        fee=payment.fee or 0,
        charge_id=payment.charge_id,
        invoice_id=payment.invoice_id,
        description=payment.description,
        receipt_url=payment.receipt_url,
        hosted_invoice_url=payment.hosted_invoice_url,
        email=payment.email,
        period_start=payment.period_start,
        period_end=payment.period_end,
    )


def ours(event: StripeEvent, attribution: Attribution, kind: str, object_id: str) -> bool:
    """Whether the metadata the event carries names a group; else it is ignored (counted)."""
    if not attribution.known:
        ignore_foreign(SERVICE, event, f"{kind} {object_id} names no group")
    return attribution.known


def record_invoice(
    uow: LedgerUnitOfWork, invoice: Invoice, attribution: Attribution, *, status_at: int
) -> None:
    """Insert or update the invoice row before the commit (older news never overwrites
    newer)."""
    uow.books.note_invoice(
        {
            "invoice_id": invoice.id,
            "customer_id": invoice.customer,
            "group_id": attribution.group_id,
            "user_id": attribution.user_id,
            "tier_id": attribution.tier_id,
            "number": invoice.number,
            "status": invoice.status,
            "amount_due": invoice.amount_due,
            "amount_paid": invoice.amount_paid,
            "currency": (invoice.currency or "").lower() or None,
            "hosted_invoice_url": invoice.hosted_invoice_url,
            "invoice_pdf": invoice.invoice_pdf,
            "created_at": at(invoice.created),
        },
        status_at=status_at,
    )
