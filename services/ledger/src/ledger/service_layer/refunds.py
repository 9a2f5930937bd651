"""Refunds: booked from Stripe's events (current state fetched, since events come out of order),
and requested by admins through Stripe, never booked before Stripe says so."""

from __future__ import annotations

from dataclasses import dataclass

import stripe

from ledger.adapters.stripe_gateway import PaidCharge
from ledger.domain import accounts
from ledger.domain.accounts import Account, Kind
from ledger.domain.errors import InvalidState, NotFound
from ledger.domain.payments import Payment, RefundReason
from ledger.domain.transactions import event_id
from ledger.service_layer import Deps, at
from ledger.service_layer.payments import payment_of
from ledger.service_layer.unit_of_work import LedgerUnitOfWork
from tollgate_shared.contracts.ledger import RefundRecorded
from tollgate_shared.contracts.stripe import StripeEvent
from tollgate_shared.contracts.stripe_objects import Refund
from tollgate_shared.infra.stripe_client import idempotency_key

MONEY_RETURNED = ("pending", "requires_action", "succeeded")
"""Refund states in which the money has left the balance (failed/canceled ones come back)."""


async def on_refund_event(deps: Deps, uow: LedgerUnitOfWork, event: StripeEvent) -> None:
    """`refund.*` / `charge.refund.updated`: book the refund as it is now (another app's
    refund is ignored before it is read)."""
    payment = await payment_of(deps, uow, event, event.object_as(Refund).charge)
    if payment is not None:
        refund = await deps.stripe.refund(str(event.data.object["id"]))
        await apply_refund(deps, uow, payment, refund, event)


async def on_charge_refunded(deps: Deps, uow: LedgerUnitOfWork, event: StripeEvent) -> None:
    """`charge.refunded`: book every refund the charge has now (none of another app's)."""
    charge = event.object_as(PaidCharge)
    payment = await payment_of(deps, uow, event, charge.id, charge=charge)
    if payment is None:
        return
    for refund in await deps.stripe.refunds_of(charge.id):
        await apply_refund(deps, uow, payment, refund, event)


async def apply_refund(
    deps: Deps, uow: LedgerUnitOfWork, payment: Payment, refund: Refund, event: StripeEvent
) -> None:
    """Book a refund of `payment` whose money left, or correct one that failed after being
    booked."""
    await uow.books.upsert_refund(
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
    )
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
    if refund.status in MONEY_RETURNED:
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


@dataclass(frozen=True)
class RefundRequest:
    charge_id: str
    amount: int | None
    """None refunds what is left."""
    reason: RefundReason | None
    note: str | None
    requested_by: str
    client_key: str | None
    """The caller's Idempotency-Key, if any."""


async def request_refund(deps: Deps, command: RefundRequest) -> Refund:
    """Ask Stripe for the refund; the ledger changes when Stripe's event arrives."""
    async with deps.uow() as uow:
        payment = await uow.books.get_payment(command.charge_id)
        if payment is None:
            raise NotFound(f"no payment for charge {command.charge_id}")
        refunded = await uow.books.charge_account_total(payment.charge_id, Account.REFUNDS)
    remaining = payment.amount - refunded
    if remaining <= 0:
        raise InvalidState("the payment is already fully refunded")
    if command.amount is not None and command.amount > remaining:
        raise InvalidState(f"at most {remaining} {payment.currency} can still be refunded")
    # Without a client key, the same amount against the same refunded total is a retry.
    retry_scope = command.client_key or f"{command.amount or 'rest'}:{refunded}"
    metadata = {"requested_by": command.requested_by, "note": command.note or ""}
    try:
        return await deps.stripe.create_refund(
            payment.charge_id,
            amount=command.amount,
            reason=command.reason,
            metadata=metadata,
            idempotency_key=idempotency_key("refund", payment.charge_id, retry_scope),
        )
    except stripe.InvalidRequestError as exc:
        raise InvalidState(exc.user_message or str(exc)) from None
