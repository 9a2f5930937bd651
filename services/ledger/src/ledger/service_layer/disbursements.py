"""Money sent to organizers: transfers to their connected accounts and payouts, booked from
Stripe's objects (metadata `group_id`, and `payout_id` when a payout request caused them)."""

from __future__ import annotations

from ledger.adapters.stripe_gateway import BookedPayout, BookedTransfer
from ledger.domain import accounts
from ledger.domain.accounts import Kind
from ledger.domain.attribution import Attribution
from ledger.domain.transactions import Transaction, event_id
from ledger.service_layer import Deps, at
from ledger.service_layer.unit_of_work import LedgerUnitOfWork
from tollgate_shared.contracts.ledger import PayoutRecorded
from tollgate_shared.contracts.stripe import StripeEvent
from tollgate_shared.messaging.foreign import ignore_foreign

SERVICE = "ledger"

FAILED = ("failed", "canceled")


def _disbursement(
    kind: Kind, obj: BookedTransfer | BookedPayout, group_id: str, amount: int, **extra: object
) -> Transaction:
    currency = obj.currency.lower()
    postings = accounts.disbursement(amount, currency)
    if kind in (Kind.TRANSFER_REVERSAL, Kind.PAYOUT_REVERSAL):
        postings = accounts.reversal(postings)
    return Transaction(
        kind=kind,
        source_id=obj.id,
        group_id=group_id,
        currency=currency,
        amount=amount,
        postings=postings,
        occurred_at=at(obj.created),
        attribution=Attribution.from_metadata(obj.metadata),
        **extra,  # type: ignore[arg-type]
    )


async def _recorded(
    deps: Deps,
    uow: LedgerUnitOfWork,
    obj: BookedTransfer | BookedPayout,
    group_id: str,
    *,
    status: str,
    causation_id: str,
) -> None:
    request_id = obj.metadata.get("payout_id")
    if request_id and status == "paid":
        await uow.payouts.mark_paid(request_id, transfer_id=obj.id)
    uow.emit(
        PayoutRecorded(
            id=event_id("payout_recorded", obj.id, status),
            causation_id=causation_id,
            group_id=group_id,
            amount=obj.amount,
            currency=obj.currency.lower(),
            payout_id=request_id or obj.id,
            status=status,
        ),
    )


async def record_transfer(
    deps: Deps, uow: LedgerUnitOfWork, transfer: BookedTransfer, *, causation_id: str
) -> None:
    """Book a transfer to a group's organizer, and any part of it reversed since."""
    group_id = transfer.metadata.get("group_id")
    if not group_id:
        return  # not a disbursement of ours
    booking = _disbursement(
        Kind.TRANSFER,
        transfer,
        group_id,
        transfer.amount,
        balance_transaction_id=transfer.balance_transaction,
        description=f"Transfer to {transfer.destination}",
    )
    if await uow.books.post(booking, causation_id=causation_id):
        await _recorded(deps, uow, transfer, group_id, status="paid", causation_id=causation_id)
    reversed_so_far = await uow.books.booked_amount(
        source_id=transfer.id, kind=Kind.TRANSFER_REVERSAL
    )
    if transfer.amount_reversed > reversed_so_far:
        correction = _disbursement(
            Kind.TRANSFER_REVERSAL,
            transfer,
            group_id,
            transfer.amount_reversed - reversed_so_far,
            discriminator=str(transfer.amount_reversed),
        )
        await uow.books.post(correction, causation_id=causation_id)


async def on_transfer(deps: Deps, uow: LedgerUnitOfWork, event: StripeEvent) -> None:
    """`transfer.created|updated|reversed` of a group (metadata `group_id`)."""
    transfer = event.object_as(BookedTransfer)
    if not transfer.metadata.get("group_id"):
        ignore_foreign(SERVICE, event, f"transfer {transfer.id} names no group")
        return
    await record_transfer(deps, uow, transfer, causation_id=event.id)


async def on_payout(deps: Deps, uow: LedgerUnitOfWork, event: StripeEvent) -> None:
    """`payout.*` of a group (metadata `group_id`), as it is now; a failed one comes back."""
    group_id = event.object_as(BookedPayout).metadata.get("group_id")
    if not group_id:  # the platform's own payout to its bank (or another app's)
        ignore_foreign(SERVICE, event, "payout names no group")
        return
    # Read: a paid payout can still fail, and its events come in any order (rare: groups only).
    payout = await deps.stripe.payout(str(event.data.object["id"]))
    booking = _disbursement(
        Kind.PAYOUT,
        payout,
        group_id,
        payout.amount,
        balance_transaction_id=payout.balance_transaction,
        description="Payout",
    )
    if payout.status not in FAILED:
        if await uow.books.post(booking, causation_id=event.id):
            await _recorded(deps, uow, payout, group_id, status="paid", causation_id=event.id)
    elif await uow.books.is_booked(booking.key):
        correction = _disbursement(Kind.PAYOUT_REVERSAL, payout, group_id, payout.amount)
        if await uow.books.post(correction, causation_id=event.id):
            await _recorded(
                deps,
                uow,
                payout,
                group_id,
                status=payout.status or "failed",
                causation_id=event.id,
            )
