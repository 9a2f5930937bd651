"""Accounts, postings and the balancing rule of the double-entry ledger.

Amounts are signed integers in the currency's minor unit: debits positive, credits negative,
so a transaction balances when its entries sum to zero in every currency.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from ledger.domain.errors import UnbalancedTransaction


class Account(StrEnum):
    """Every group has one of each account per currency."""

    GROSS_REVENUE = "gross_revenue"
    """Income from payments (credit-normal)."""
    REFUNDS = "refunds"
    """Money returned to payers (debit-normal, contra-revenue)."""
    DISPUTES = "disputes"
    """Money withdrawn by chargebacks, less what was reinstated (debit-normal)."""
    STRIPE_FEES = "stripe_fees"
    """Processing and dispute fees (debit-normal)."""
    PAYABLE_TO_ORGANIZER = "payable_to_organizer"
    """The group's money held on the platform's Stripe balance, owed to its organizer."""
    PAID_OUT = "paid_out"
    """What has been disbursed to the organizer (debit-normal)."""


class Kind(StrEnum):
    """What a transaction records; with the Stripe object id it forms the unique key."""

    PAYMENT = "payment"
    FEE = "fee"
    REFUND = "refund"
    REFUND_REVERSAL = "refund_reversal"
    DISPUTE_FUNDS_WITHDRAWN = "dispute_funds_withdrawn"
    DISPUTE_FUNDS_REINSTATED = "dispute_funds_reinstated"
    TRANSFER = "transfer"
    TRANSFER_REVERSAL = "transfer_reversal"
    PAYOUT = "payout"
    PAYOUT_REVERSAL = "payout_reversal"


@dataclass(frozen=True)
class Posting:
    """One entry: `amount` debited (positive) or credited (negative) to `account`."""

    account: Account
    amount: int
    currency: str


def check_balanced(postings: Iterable[Posting]) -> None:
    """Raise unless the postings have two sides and sum to zero in every currency."""
    items = list(postings)
    if len(items) < 2:
        raise UnbalancedTransaction("a transaction needs at least two entries")
    totals: dict[str, int] = defaultdict(int)
    for posting in items:
        totals[posting.currency] += posting.amount
    unbalanced = {currency: total for currency, total in totals.items() if total}
    if unbalanced:
        raise UnbalancedTransaction(f"entries do not balance: {unbalanced}")


def _pair(debit: Account, credit: Account, amount: int, currency: str) -> list[Posting]:
    return [Posting(debit, amount, currency), Posting(credit, -amount, currency)]


def payment(amount: int, currency: str) -> list[Posting]:
    """A captured charge: the organizer is owed its gross amount."""
    return _pair(Account.PAYABLE_TO_ORGANIZER, Account.GROSS_REVENUE, amount, currency)


def fee(amount: int, currency: str) -> list[Posting]:
    """Stripe's processing fee on a charge, borne by the organizer."""
    return _pair(Account.STRIPE_FEES, Account.PAYABLE_TO_ORGANIZER, amount, currency)


def refund(amount: int, currency: str) -> list[Posting]:
    """Money returned to the payer."""
    return _pair(Account.REFUNDS, Account.PAYABLE_TO_ORGANIZER, amount, currency)


def dispute_movement(amount: int, fee_amount: int, currency: str) -> list[Posting]:
    """A dispute balance transaction as Stripe reports it: `amount` negative when funds are
    withdrawn and positive when reinstated, `fee_amount` the dispute fee charged (or returned)."""
    return [
        Posting(Account.DISPUTES, -amount, currency),
        Posting(Account.STRIPE_FEES, fee_amount, currency),
        Posting(Account.PAYABLE_TO_ORGANIZER, amount - fee_amount, currency),
    ]


def disbursement(amount: int, currency: str) -> list[Posting]:
    """Money sent to the organizer (a transfer or a payout)."""
    return _pair(Account.PAID_OUT, Account.PAYABLE_TO_ORGANIZER, amount, currency)


def reversal(postings: Iterable[Posting]) -> list[Posting]:
    """The correcting entries of `postings` (the ledger is never edited)."""
    return [Posting(p.account, -p.amount, p.currency) for p in postings]
