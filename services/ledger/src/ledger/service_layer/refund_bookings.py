"""Booking a refund of a booked payment as its newest news has it (its money left, or came
back)."""

from __future__ import annotations

from ledger.adapters import orm
from ledger.domain import accounts
from ledger.domain.accounts import Kind
from ledger.domain.payments import Payment
from ledger.domain.transactions import event_id
from ledger.service_layer import at
from ledger.service_layer.unit_of_work import LedgerUnitOfWork
from tollgate_shared.contracts.ledger import RefundRecorded
from tollgate_shared.contracts.stripe import StripeEvent
from tollgate_shared.contracts.stripe_objects import Refund

MONEY_RETURNED = ("pending", "requires_action", "succeeded")
"""Refund states in which the money has left the balance (failed/canceled ones come back)."""


async def apply_refund(
    uow: LedgerUnitOfWork, payment: Payment, refund: Refund, event: StripeEvent
) -> None:
    """Book a refund of `payment` whose money left, or correct one that failed after being
    booked, as the newest news of it has it (events come in any order; a refund that
    succeeded can still fail)."""
    await uow.books.upsert_status(
        orm.refunds,
        "refund_id",
        {
            "refund_id": refund.id,
            "charge_id": payment.charge_id,
            "group_id": payment.group_id,
            "amount": refund.amount,
            "currency": refund.currency.lower(),
            "status": refund.status or "pending",
            "reason": refund.reason,
            "note": refund.metadata.get("note"),
            "requested_by": refund.metadata.get("requested_by"),
            "created_at": at(refund.created),
        },
        status_at=event.created,
    )
    status = await uow.books.refund_status(refund.id)
    await uow.books.add_timeline(
        event_id=event.id,
        object_id=refund.id,
        charge_id=payment.charge_id,
        event_type=event.type,
        status=refund.status,
        amount=refund.amount,
        occurred_at=at(event.created),
    )
    booking = payment.movement(
        Kind.REFUND,
        source_id=refund.id,
        amount=refund.amount,
        postings=accounts.refund(refund.amount, refund.currency.lower()),
        occurred_at=at(refund.created),
        balance_transaction_id=refund.balance_transaction,
    )
    if status in MONEY_RETURNED:
        if await uow.books.post(booking, causation_id=event.id):
            uow.emit(
                RefundRecorded(
                    id=event_id("refund_recorded", refund.id),
                    causation_id=event.id,
                    group_id=payment.group_id,
                    user_id=payment.attribution.user_id,
                    amount=refund.amount,
                    currency=booking.currency,
                    charge_id=payment.charge_id,
                    email=payment.email,
                    refund_id=refund.id,
                    reason=refund.reason,
                )
            )
    elif await uow.books.is_booked(booking.key):
        correction = payment.movement(
            Kind.REFUND_REVERSAL,
            source_id=refund.id,
            amount=refund.amount,
            postings=accounts.reversal(booking.postings),
            occurred_at=at(event.created),
        )
        await uow.books.post(correction, causation_id=event.id)
