"""Booking payments: paid invoices, completed payment-mode checkouts and succeeded charges.

Each source resolves the charge it paid and books it under the key of that charge, so a
payment seen through several events (or redelivered) is counted once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ledger.adapters import orm
from ledger.adapters.stripe_gateway import PaidCharge
from ledger.domain.attribution import Attribution
from ledger.domain.errors import NotAttributable
from ledger.domain.payments import Payment
from ledger.domain.transactions import event_id
from ledger.service_layer import Deps, at
from ledger.service_layer.refund_bookings import book_refunds
from ledger.service_layer.unit_of_work import LedgerUnitOfWork
from tollgate_shared.contracts.ledger import PaymentRecorded
from tollgate_shared.contracts.stripe import StripeEvent
from tollgate_shared.contracts.stripe_objects import CheckoutSession, Invoice
from tollgate_shared.messaging.foreign import ignore_foreign

SERVICE = "ledger"
TOLLGATE_KEYS = frozenset({"group_id", "user_id", "requested_by"})
"""Metadata keys that make an object Tollgate's: a payment's attribution, a refund's request."""


@dataclass(frozen=True)
class Hints:
    """What the triggering event already tells about a payment."""

    attribution: Attribution = field(default_factory=Attribution)
    invoice: Invoice | None = None
    email: str | None = None


def _invoice_attribution(invoice: Invoice) -> Attribution:
    return Attribution.from_metadata(invoice.subscription_metadata).or_else(
        Attribution.from_metadata(invoice.metadata)
    )


async def book_payment(
    deps: Deps,
    uow: LedgerUnitOfWork,
    charge_id: str,
    *,
    event: StripeEvent,
    charge: PaidCharge | None = None,
    hints: Hints = Hints(),
) -> Payment | None:
    """The charge's booked payment, booking it now if needed; None if it cannot be attributed.
    A charge the event carries is attributed by its own metadata only (a subscription's charge
    carries none: its invoice's event books it), so another app's costs no read. A charge read
    here that was refunded before it was booked has its refunds booked with it."""
    if (existing := await uow.books.get_payment(charge_id)) is not None:
        if hints.invoice is not None:
            await uow.books.link_invoice(
                charge_id,
                invoice_id=hints.invoice.id,
                hosted_url=hints.invoice.hosted_invoice_url,
                pdf=hints.invoice.invoice_pdf,
            )
        return existing
    carried = charge is not None
    if charge is None:  # the event is not about the charge: read its metadata
        charge = await deps.stripe.charge(charge_id)
    attribution = hints.attribution.or_else(Attribution.from_metadata(charge.metadata))
    invoice = hints.invoice
    if invoice is None and not attribution.known and not carried and charge.payment_intent:
        # A subscription's charge carries no metadata and no copy of its invoice's: read it.
        invoice = await deps.stripe.invoice_for_payment_intent(charge.payment_intent)
    if invoice is not None:
        attribution = attribution.or_else(_invoice_attribution(invoice))
    if not attribution.known:
        return None  # another app's payment (or metadata-less): never ours to book
    if charge.fee is None:  # the fee is on its balance transaction, expanded by this read
        charge = await deps.stripe.charge(charge_id)
    if charge.status != "succeeded":
        return None
    payment = Payment(
        charge_id=charge.id,
        attribution=attribution,
        amount=charge.amount,
        fee=charge.fee or 0,
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
        if not carried and charge.amount_refunded > 0:  # its charge.refunded found no payment
            await book_refunds(deps, uow, payment, event)
    return payment


async def payment_of(
    deps: Deps,
    uow: LedgerUnitOfWork,
    event: StripeEvent,
    charge_id: str | None,
    *,
    charge: PaidCharge | None = None,
    metadata: Mapping[str, str] | None = None,
) -> Payment | None:
    """The booked payment of the charge `event` is about, booking it now if needed. None when
    the charge has no Tollgate metadata, neither on itself nor on the invoice it paid (or was
    never paid), or when it is not booked and `metadata` (the event's object's, if it has its
    own) names no Tollgate request: another app's, on a shared Stripe account, so the event is
    ignored (counted) without reading Stripe."""
    payment = None
    if charge_id and (metadata is None or TOLLGATE_KEYS & metadata.keys()):
        payment = await book_payment(deps, uow, charge_id, charge=charge, event=event)
    elif charge_id:
        payment = await uow.books.get_payment(charge_id)
    if payment is None:
        ignore_foreign(SERVICE, event, f"charge {charge_id} is not attributable to a group")
    return payment


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
    return PaymentRecorded(
        id=event_id("payment_recorded", payment.charge_id),
        causation_id=causation_id,
        group_id=payment.group_id,
        user_id=payment.attribution.user_id,
        tier_id=payment.attribution.tier_id,
        amount=payment.amount,
        currency=payment.currency,
        fee=payment.fee,
        charge_id=payment.charge_id,
        invoice_id=payment.invoice_id,
        description=payment.description,
        receipt_url=payment.receipt_url,
        hosted_invoice_url=payment.hosted_invoice_url,
        email=payment.email,
        period_start=payment.period_start,
        period_end=payment.period_end,
    )


async def on_charge_succeeded(deps: Deps, uow: LedgerUnitOfWork, event: StripeEvent) -> None:
    """Book the charge if its metadata says whose it is (else its invoice/checkout will)."""
    charge = event.object_as(PaidCharge)
    await book_payment(deps, uow, charge.id, charge=charge, event=event)


async def on_charge_failed(deps: Deps, uow: LedgerUnitOfWork, event: StripeEvent) -> None:
    """A failed charge moved no money: nothing to book (it is counted as a payment outcome)."""


def _ours(event: StripeEvent, attribution: Attribution, kind: str, object_id: str) -> bool:
    """Whether the metadata the event carries names a group; else it is ignored (counted)."""
    if not attribution.known:
        ignore_foreign(SERVICE, event, f"{kind} {object_id} names no group")
    return attribution.known


async def on_invoice_paid(deps: Deps, uow: LedgerUnitOfWork, event: StripeEvent) -> None:
    """Keep the invoice for the member's history and book the charge that paid it."""
    invoice = event.object_as(Invoice)
    attribution = _invoice_attribution(invoice)
    if not _ours(event, attribution, "invoice", invoice.id):
        return
    await record_invoice(uow, invoice, attribution, status_at=event.created)
    if invoice.amount_paid <= 0:
        return
    intent = invoice.payment_intent_id or await deps.stripe.invoice_payment_intent(invoice.id)
    charge_id = await deps.stripe.latest_charge_of(intent) if intent else None
    if charge_id is None:
        return  # paid out of band: no money moved through Stripe
    hints = Hints(attribution=attribution, invoice=invoice, email=invoice.customer_email)
    await book_payment(deps, uow, charge_id, hints=hints, event=event)


async def on_invoice_updated(deps: Deps, uow: LedgerUnitOfWork, event: StripeEvent) -> None:
    """Track an invoice's status (a failed payment, a void, a write-off) for the member's
    history."""
    invoice = event.object_as(Invoice)
    attribution = _invoice_attribution(invoice)
    if _ours(event, attribution, "invoice", invoice.id):
        await record_invoice(uow, invoice, attribution, status_at=event.created)


async def on_checkout_completed(deps: Deps, uow: LedgerUnitOfWork, event: StripeEvent) -> None:
    """Book a paid payment-mode checkout (subscription checkouts are booked by their invoice)."""
    checkout = event.object_as(CheckoutSession)
    if checkout.mode != "payment" or checkout.payment_status != "paid":
        return
    attribution = Attribution.from_metadata(checkout.metadata)
    if not _ours(event, attribution, "checkout session", checkout.id):
        return
    charge_id = (
        await deps.stripe.latest_charge_of(checkout.payment_intent)
        if checkout.payment_intent
        else None
    )
    if charge_id is None:
        raise NotAttributable(f"paid checkout {checkout.id} has no charge yet")
    hints = Hints(attribution=attribution, email=checkout.email)
    await book_payment(deps, uow, charge_id, hints=hints, event=event)


async def record_invoice(
    uow: LedgerUnitOfWork, invoice: Invoice, attribution: Attribution, *, status_at: int
) -> None:
    """Insert or update the invoice row (older news never overwrites newer)."""
    await uow.books.upsert_status(
        orm.invoices,
        "invoice_id",
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
