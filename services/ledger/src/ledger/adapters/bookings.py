"""Bookings as rows for the booking statement, and the payments a unit of work books, written
together: one statement per fetch instead of one per payment.

A payment is queued only when this transaction knows it is not booked (read under the locks
its fetch holds, `fetches.prepare`), so it will be written now: the handler announces it at
once. Before any statement that reads or writes the books, `Books` writes the queue (see
`repository.Books`); the statement raises if a queued payment was booked meanwhile after all,
which rolls the fetch back to be applied again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.adapters.statements import (
    ATTRIBUTION_FIELDS,
    BOOKING,
    PAYMENT_COLUMNS,
    TRANSACTION_COLUMNS,
)
from ledger.domain.payments import Payment
from ledger.domain.transactions import Transaction
from tollgate_shared.persistence.db import json_param
from tollgate_shared.persistence.unit_of_work import Deferred, UnitOfWork


class BookedMeanwhile(RuntimeError):
    """A payment this transaction queued as not booked was booked by another one."""


def _column(txn: Transaction, name: str, causation_id: str | None) -> Any:
    match name:
        case "kind":
            return txn.kind.value
        case "description":
            return (txn.description or "")[:500] or None
        case "causation_id":
            return causation_id
        case "user_id" | "tier_id" | "purpose" | "reference":
            return getattr(txn.attribution, name)
        case _:
            return getattr(txn, name)


@dataclass
class Bookings:
    """Transactions, their entries and payments, as the booking statement takes them."""

    transactions: list[dict[str, Any]] = field(default_factory=list)
    postings: list[dict[str, Any]] = field(default_factory=list)
    payments: list[dict[str, Any]] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)
    """Keys of the first transaction of each queued payment: each must be booked now."""

    def add(
        self,
        transactions: Sequence[Transaction],
        causation_id: str | None,
        causations: Mapping[str, str],
        payment: Payment | None = None,
    ) -> None:
        """Add `transactions` (each caused by `causation_id`, or by what `causations` says
        for its key) and the payment they book."""
        for txn in transactions:
            cause = causations.get(txn.key, causation_id)
            row = {c.name: _column(txn, c.name, cause) for c in TRANSACTION_COLUMNS}
            self.transactions.append(row)
            self.postings += (
                {
                    "posting_key": txn.key,
                    "account": p.account.value,
                    "posting_currency": p.currency,
                    "posting_amount": p.amount,
                }
                for p in txn.postings
            )
        if payment is not None:
            # Field by field: `asdict` deep-copies, a hot path's cost.
            self.payments.append(
                {
                    c.name: getattr(
                        payment.attribution if c.name in ATTRIBUTION_FIELDS else payment, c.name
                    )
                    for c in PAYMENT_COLUMNS
                }
            )

    def params(self) -> dict[str, str]:
        return {
            "transactions": json_param(self.transactions),
            "postings": json_param(self.postings),
            "payments": json_param(self.payments),
        }


async def book(uow: UnitOfWork, bookings: Bookings) -> set[str]:
    """Write `bookings` in one statement; the keys of the transactions booked now."""
    [row] = await uow.execute(BOOKING, bookings.params())
    return set(row["booked"])


async def _write(uow: UnitOfWork, queued: Bookings) -> None:
    if queued.transactions:
        booked = await book(uow, queued)
        missed = [key for key in queued.expected if key not in booked]
        if missed:
            raise BookedMeanwhile(f"booked by another transaction meanwhile: {missed}")


QUEUED_PAYMENTS = Deferred(Bookings, _write)
"""The payments a unit of work books (`uow.deferred(QUEUED_PAYMENTS)`), written together."""
