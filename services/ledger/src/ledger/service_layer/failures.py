"""Declined and failed payments: they move no money and book nothing, but an organizer wants to
see them (who tried to pay, how much, why it failed). Recorded from the events the ledger
already receives, for payments of our groups only (another app's are ignored)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ledger.domain.attribution import Attribution
from ledger.service_layer import Deps, at, joins
from ledger.service_layer.payments import invoice_attribution
from ledger.service_layer.unit_of_work import LedgerUnitOfWork
from tollgate_shared.contracts.stripe import StripeEvent
from tollgate_shared.contracts.stripe_objects import (
    CustomerDetails,
    Invoice,
    Metadata,
    Ref,
    StripeObject,
)


class FailedCharge(StripeObject):
    """A declined charge, with Stripe's verdict on it; what it lacks is not asked for (a failed
    charge books nothing, so its event is never refused for a missing field)."""

    amount: int | None = None
    currency: str | None = None
    payment_intent: Ref = None
    metadata: Metadata = Field(default_factory=dict)
    billing_details: CustomerDetails | None = None
    receipt_email: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    outcome: dict[str, Any] | None = None

    @property
    def email(self) -> str | None:
        """The payer's email as the charge knows it."""
        return (self.billing_details and self.billing_details.email) or self.receipt_email


class FailedIntent(StripeObject):
    """A payment intent whose attempt failed, as leniently as `FailedCharge`."""

    amount: int | None = None
    currency: str | None = None
    metadata: Metadata = Field(default_factory=dict)
    receipt_email: str | None = None
    last_payment_error: dict[str, Any] | None = None


async def on_charge_failed(deps: Deps, uow: LedgerUnitOfWork, event: StripeEvent) -> None:
    """`charge.failed`: a declined charge of our group (its metadata, copied from its intent,
    says whose); without metadata of its own, it only fills in what its intent's
    `payment_intent.payment_failed` recorded."""
    charge = event.object_as(FailedCharge)
    details = {
        "email": charge.email,
        "code": charge.failure_code,
        "decline_code": (charge.outcome or {}).get("reason"),
        "message": charge.failure_message,
        "payment_intent_id": charge.payment_intent,
    }
    attribution = Attribution.from_metadata(charge.metadata)
    if not attribution.known or charge.amount is None or not charge.currency:
        await uow.failures.add_details(charge.id, details)
        return
    await uow.failures.record(
        {
            "failure_id": charge.id,
            "kind": "charge",
            "group_id": attribution.group_id,
            "user_id": attribution.user_id,
            "amount": charge.amount,
            "currency": charge.currency.lower(),
            "failed_at": at(charge.created or event.created),
            **details,
        }
    )


async def on_intent_failed(deps: Deps, uow: LedgerUnitOfWork, event: StripeEvent) -> None:
    """`payment_intent.payment_failed` of an intent with our metadata: its declined charge, or
    a failed 3-D Secure challenge (no charge: recorded under the intent). An intent without
    metadata (a subscription invoice's: `invoice.payment_failed` tells) is ignored."""
    intent = event.object_as(FailedIntent)
    attribution = Attribution.from_metadata(intent.metadata)
    if not attribution.known or intent.amount is None or not intent.currency:
        return
    error = intent.last_payment_error or {}
    charge = error.get("charge")
    await uow.failures.record(
        {
            "failure_id": charge or intent.id,
            "kind": "charge" if charge else "authentication",
            "group_id": attribution.group_id,
            "user_id": attribution.user_id,
            "email": intent.receipt_email,
            "amount": intent.amount,
            "currency": intent.currency.lower(),
            "code": error.get("code"),
            "decline_code": error.get("decline_code"),
            "message": error.get("message"),
            "payment_intent_id": intent.id,
            "failed_at": at(event.created),
        }
    )


async def on_invoice_payment_failed(deps: Deps, uow: LedgerUnitOfWork, event: StripeEvent) -> None:
    """`invoice.payment_failed`: the invoice's status for the member's history, and the failed
    attempt (a renewal declined, a first payment not completed) for the group."""
    await joins.on_invoice_updated(deps, uow, event)
    invoice = event.object_as(Invoice)
    attribution = invoice_attribution(invoice)
    if not attribution.known or not invoice.currency:
        return
    await uow.failures.record(
        {
            "failure_id": invoice.id,
            "kind": "invoice",
            "group_id": attribution.group_id,
            "user_id": attribution.user_id,
            "email": invoice.customer_email,
            "amount": invoice.amount_remaining or invoice.amount_due,
            "currency": invoice.currency.lower(),
            "invoice_id": invoice.id,
            "attempts": max(invoice.attempt_count, 1),
            "failed_at": at(event.created),
        }
    )
