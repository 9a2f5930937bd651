"""Risk outcomes: early fraud warnings and reviews, linked to the payment they concern (those
of another app's payments, or of none, are ignored)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ledger.adapters import orm
from ledger.adapters import repository as repo
from ledger.service_layer import Deps, at
from ledger.service_layer.payments import payment_of
from tollgate_shared.events.stripe import EarlyFraudWarning, Review, StripeEvent


async def _record(
    deps: Deps,
    session: AsyncSession,
    event: StripeEvent,
    *,
    risk_id: str,
    kind: str,
    charge_id: str | None,
    status: str,
    reason: str | None,
    created: int | None,
) -> None:
    payment = await payment_of(deps, session, event, charge_id)
    if payment is None:
        return
    await repo.upsert_status(
        session,
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
    await repo.add_timeline(
        session,
        event_id=event.id,
        object_id=risk_id,
        charge_id=charge_id,
        event_type=event.type,
        status=status,
        amount=None,
        occurred_at=at(event.created),
    )


async def on_early_fraud_warning(deps: Deps, session: AsyncSession, event: StripeEvent) -> None:
    """`radar.early_fraud_warning.*`."""
    warning = event.object_as(EarlyFraudWarning)
    await _record(
        deps,
        session,
        event,
        risk_id=warning.id,
        kind="early_fraud_warning",
        charge_id=warning.charge,
        status="actionable" if warning.actionable else "not_actionable",
        reason=warning.fraud_type,
        created=warning.created,
    )


async def on_review(deps: Deps, session: AsyncSession, event: StripeEvent) -> None:
    """`review.opened` / `review.closed`."""
    review = event.object_as(Review)
    await _record(
        deps,
        session,
        event,
        risk_id=review.id,
        kind="review",
        charge_id=review.charge,
        status="open" if review.open else "closed",
        reason=review.closed_reason or review.opened_reason or review.reason,
        created=review.created,
    )
