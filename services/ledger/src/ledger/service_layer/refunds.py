"""Refunds: booked from Stripe's events (the newest news of each refund winning, since events
come in any order), and requested by admins through Stripe, never booked before Stripe says so."""

from __future__ import annotations

from dataclasses import dataclass

import stripe

from ledger.domain.accounts import Account
from ledger.domain.errors import InvalidState, NotFound
from ledger.domain.payments import RefundReason
from ledger.service_layer import Deps
from ledger.service_layer.payments import payment_of
from ledger.service_layer.refund_bookings import apply_refund
from ledger.service_layer.unit_of_work import LedgerUnitOfWork
from tollgate_shared.contracts.stripe import StripeEvent
from tollgate_shared.contracts.stripe_objects import Refund
from tollgate_shared.infra.stripe_client import idempotency_key


async def on_refund_event(deps: Deps, uow: LedgerUnitOfWork, event: StripeEvent) -> None:
    """`refund.*` / `charge.refund.updated`: book the refund as its newest news has it (the
    event carries the refund: nothing is read). A refund of a charge neither booked nor waiting
    for its payment's other parts is another app's, ignored."""
    refund = event.object_as(Refund)
    payment = await payment_of(uow, event, refund.charge)
    if payment is not None:
        await apply_refund(uow, payment, refund, event)


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
