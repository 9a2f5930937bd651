"""Risk outcomes: early fraud warnings and reviews, linked to the payment they concern (those
of another app's payments, or of none, are ignored)."""

from __future__ import annotations

from ledger.adapters import orm
from ledger.service_layer import Deps, at
from ledger.service_layer.payments import payment_of
from ledger.service_layer.unit_of_work import LedgerUnitOfWork
from tollgate_shared.contracts.stripe import StripeEvent
from tollgate_shared.contracts.stripe_objects import EarlyFraudWarning, Review


async def _record(
    deps: Deps,
    uow: LedgerUnitOfWork,
    event: StripeEvent,
    *,
    risk_id: str,
    kind: str,
    charge_id: str | None,
    status: str,
    reason: str | None,
    created: int | None,
) -> None:
    payment = await payment_of(uow, event, charge_id)
    if payment is None:
        return
    await uow.books.upsert_status(
        orm.risk_items,
        "risk_id",
        {
            "risk_id": risk_id,
            "kind": kind,
            "charge_id": charge_id,
            "group_id": payment.group_id,
            "user_id": payment.attribution.user_id,
            "status": status,
            "reason": reason,
            "created_at": at(created),
        },
        status_at=event.created,
    )
    await uow.books.add_timeline(
        event_id=event.id,
        object_id=risk_id,
        charge_id=charge_id,
        event_type=event.type,
        status=status,
        amount=None,
        occurred_at=at(event.created),
    )


async def on_early_fraud_warning(deps: Deps, uow: LedgerUnitOfWork, event: StripeEvent) -> None:
    """`radar.early_fraud_warning.*`."""
    warning = event.object_as(EarlyFraudWarning)
    await _record(
        deps,
        uow,
        event,
        risk_id=warning.id,
        kind="early_fraud_warning",
        charge_id=warning.charge,
        status="actionable" if warning.actionable else "not_actionable",
        reason=warning.fraud_type,
        created=warning.created,
    )


async def on_review(deps: Deps, uow: LedgerUnitOfWork, event: StripeEvent) -> None:
    """`review.opened` / `review.closed`."""
    review = event.object_as(Review)
    await _record(
        deps,
        uow,
        event,
        risk_id=review.id,
        kind="review",
        charge_id=review.charge,
        status="open" if review.open else "closed",
        reason=review.closed_reason or review.opened_reason or review.reason,
        created=review.created,
    )
