"""The fee task's pages: a card charge's balance transaction is of type `charge`, a local
payment method's of type `payment`; both are listed, the second only while a fee is unknown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from ledger.adapters.stripe_gateway import SourcedBalanceTransaction
from ledger.domain.accounts import Account
from ledger.service_layer import fees, joins

from .test_handlers import GROUP, NOW, FakeStripe, Ledger


class Pages(FakeStripe):
    """Balance transactions by type, as listed pages give them; the listings asked for."""

    def __init__(self, by_type: dict[str, list[dict[str, Any]]]) -> None:
        super().__init__()
        self.by_type = by_type
        self.listed: list[tuple[str, int, int]] = []

    async def balance_transactions_of_type(
        self, kind: str, *, created_from: int, created_to: int
    ) -> AsyncIterator[SourcedBalanceTransaction]:
        self.listed.append((kind, created_from, created_to))
        for txn in self.by_type.get(kind, []):
            yield SourcedBalanceTransaction.model_validate(txn)


def _txn(charge_id: str, kind: str, fee: int) -> dict[str, Any]:
    txn = {"id": f"txn_{charge_id}", "object": "balance_transaction", "type": kind}
    return {**txn, "amount": 5_000, "fee": fee, "currency": "usd", "source": charge_id}


async def _paid(ledger: Ledger, charge_id: str) -> None:
    """A one-off payment of GROUP booked from its charge, its fee unknown."""
    charge = {
        "id": charge_id,
        "object": "charge",
        "amount": 5_000,
        "currency": "usd",
        "status": "succeeded",
        "created": NOW,
        "payment_intent": f"pi_{charge_id}",
        "balance_transaction": f"txn_{charge_id}",
        "metadata": {"group_id": GROUP, "user_id": "usr_1"},
    }
    await ledger.on(joins.on_charge, "charge.succeeded", charge)


@pytest.mark.parametrize(
    ("by_type", "listed"),
    [
        # A card's and a local payment method's: both types listed.
        (
            {"charge": [_txn("ch_card", "charge", 175)], "payment": [_txn("py_1", "payment", 80)]},
            ["charge", "payment"],
        ),
        # Both found among the `charge` ones: no `payment` page asked for.
        (
            {"charge": [_txn("py_1", "charge", 80), _txn("ch_card", "charge", 175)]},
            ["charge"],
        ),
    ],
)
async def test_fees_are_found_among_charge_and_payment_balance_transactions(
    by_type: dict[str, list[dict[str, Any]]], listed: list[str]
) -> None:
    stripe = Pages(by_type)
    ledger = Ledger(stripe=stripe)
    for charge_id in ("ch_card", "py_1"):
        await _paid(ledger, charge_id)

    assert await fees.book_fees(ledger.deps) == 2

    assert [kind for kind, *_ in stripe.listed] == listed
    assert {kind for kind, *_ in stripe.listed} <= set(fees.PAYMENT_TYPES)
    assert all((start, end) == (NOW - 60, NOW + 60) for _, start, end in stripe.listed)
    assert {c: p.fee for c, p in ledger.store.payments.items()} == {"ch_card": 175, "py_1": 80}
    assert ledger.moved()[Account.STRIPE_FEES] == 255
    assert await fees.book_fees(ledger.deps) == 0  # known now: nothing more to list
    assert len(stripe.listed) == len(listed)


async def test_a_span_is_listed_once_and_what_it_held_books_payments_booked_later() -> None:
    stripe = Pages({"charge": [_txn("ch_card", "charge", 175), _txn("ch_late", "charge", 90)]})
    ledger = Ledger(stripe=stripe)
    listed = fees.Listed()
    for charge_id in ("ch_card", "ch_lost"):
        await _paid(ledger, charge_id)

    assert await fees.book_fees(ledger.deps, listed=listed) == 1
    assert [kind for kind, *_ in stripe.listed] == ["charge", "payment"]
    # `ch_lost`'s balance transaction never shows: its span is not listed again.
    assert await fees.book_fees(ledger.deps, listed=listed) == 0
    # `ch_late`'s events came late: its fee is among what the first round listed.
    await _paid(ledger, "ch_late")
    assert await fees.book_fees(ledger.deps, listed=listed) == 1

    assert len(stripe.listed) == 2
    assert {c: p.fee for c, p in ledger.store.payments.items()} == {
        "ch_card": 175,
        "ch_lost": None,
        "ch_late": 90,
    }


async def test_a_listing_past_what_a_replica_keeps_starts_over_and_is_not_counted_as_listed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fees, "KEEP", 1)
    stripe = Pages({"charge": [_txn("ch_other", "charge", 50), _txn("ch_card", "charge", 175)]})
    ledger = Ledger(stripe=stripe)
    listed = fees.Listed()
    await _paid(ledger, "ch_card")
    await _paid(ledger, "ch_lost")

    assert await fees.book_fees(ledger.deps, listed=listed) == 1
    assert await fees.book_fees(ledger.deps, listed=listed) == 0
    # Each `charge` listing started over, forgetting all: listed again for `ch_lost`; only the
    # `payment` one (empty) is counted as listed.
    assert [kind for kind, *_ in stripe.listed] == ["charge", "payment"] * 2
    assert set(listed.spans) == {"payment"}
