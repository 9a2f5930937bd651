"""Disputes: their status and the money each of their balance transactions moved."""

from __future__ import annotations

from ledger.adapters import orm
from ledger.domain import accounts
from ledger.domain.accounts import Kind
from ledger.domain.transactions import event_id
from ledger.service_layer import Deps, at
from ledger.service_layer.payments import payment_of
from ledger.service_layer.unit_of_work import LedgerUnitOfWork
from tollgate_shared.contracts.ledger import DisputeClosed, DisputeOpened
from tollgate_shared.contracts.stripe import StripeEvent
from tollgate_shared.contracts.stripe_objects import Dispute

CLOSED = ("won", "lost", "warning_closed")


async def on_dispute_event(deps: Deps, uow: LedgerUnitOfWork, event: StripeEvent) -> None:
    """`charge.dispute.*`: status (newest news wins), timeline, and money movements by key."""
    dispute = event.object_as(Dispute)
    payment = await payment_of(uow, event, dispute.charge)
    if payment is None:
        return
    currency = dispute.currency.lower()
    await uow.books.upsert_status(
        orm.disputes,
        "dispute_id",
        {
            "dispute_id": dispute.id,
            "charge_id": payment.charge_id,
            "group_id": payment.group_id,
            "amount": dispute.amount,
            "currency": currency,
            "status": dispute.status,
            "reason": dispute.reason,
            "created_at": at(dispute.created),
        },
        status_at=event.created,
    )
    await uow.books.add_timeline(
        event_id=event.id,
        object_id=dispute.id,
        charge_id=payment.charge_id,
        event_type=event.type,
        status=dispute.status,
        amount=dispute.amount,
        occurred_at=at(event.created),
    )
    for bt in dispute.balance_transactions:
        kind = Kind.DISPUTE_FUNDS_WITHDRAWN if bt.amount < 0 else Kind.DISPUTE_FUNDS_REINSTATED
        movement = payment.movement(
            kind,
            source_id=dispute.id,
            amount=abs(bt.amount),
            postings=accounts.dispute_movement(
                bt.amount, bt.fee, (bt.currency or currency).lower()
            ),
            occurred_at=at(bt.created or event.created),
            balance_transaction_id=bt.id,
            discriminator=bt.id,
        )
        await uow.books.post(movement, causation_id=event.id)
    common = {
        "causation_id": event.id,
        "group_id": payment.group_id,
        "user_id": payment.attribution.user_id,
        "amount": dispute.amount,
        "currency": currency,
        "charge_id": payment.charge_id,
        "email": payment.email,
        "dispute_id": dispute.id,
    }
    opened = DisputeOpened(
        id=event_id("dispute_opened", dispute.id), reason=dispute.reason, **common
    )
    uow.emit(opened)
    if dispute.status in CLOSED:
        closed = DisputeClosed(
            id=event_id("dispute_closed", dispute.id), status=dispute.status, **common
        )
        uow.emit(closed)
