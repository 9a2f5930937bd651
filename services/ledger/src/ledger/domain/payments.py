"""A booked payment (one captured charge) and the movements it implies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

from ledger.domain import accounts
from ledger.domain.accounts import Kind
from ledger.domain.attribution import Attribution
from ledger.domain.transactions import Transaction

RefundReason = Literal["requested_by_customer", "duplicate", "fraudulent"]
"""The reasons Stripe takes for a refund."""


def refund_reason(value: str) -> RefundReason | None:
    """`value` as one of the refund reasons; None when it is none of them."""
    return next((reason for reason in get_args(RefundReason) if reason == value), None)


@dataclass(frozen=True)
class Payment:
    """What the audit trail and the member's history show about one charge."""

    charge_id: str
    attribution: Attribution
    amount: int
    fee: int | None
    """Stripe's fee on the charge; None until it is known (events never carry it)."""
    currency: str
    created_at: datetime
    balance_transaction_id: str | None = None
    payment_intent_id: str | None = None
    invoice_id: str | None = None
    customer_id: str | None = None
    email: str | None = None
    description: str | None = None
    receipt_url: str | None = None
    hosted_invoice_url: str | None = None
    invoice_pdf: str | None = None
    period_start: datetime | None = None
    """The billing period a subscription payment covers."""
    period_end: datetime | None = None

    @property
    def group_id(self) -> str:
        """The group the payment is booked to (a payment is only booked once attributed)."""
        if self.attribution.group_id is None:
            raise ValueError(f"payment {self.charge_id} is not attributed to a group")
        return self.attribution.group_id

    def _transaction(
        self,
        kind: Kind,
        amount: int,
        postings: list[accounts.Posting],
        balance_transaction_id: str | None = None,
    ) -> Transaction:
        return Transaction(
            kind=kind,
            source_id=self.charge_id,
            group_id=self.group_id,
            currency=self.currency,
            amount=amount,
            postings=postings,
            occurred_at=self.created_at,
            attribution=self.attribution,
            charge_id=self.charge_id,
            invoice_id=self.invoice_id,
            balance_transaction_id=balance_transaction_id or self.balance_transaction_id,
            description=self.description,
        )

    def transactions(self) -> list[Transaction]:
        """The gross payment, and Stripe's fee on it when it is known and not zero."""
        booked = [
            self._transaction(
                Kind.PAYMENT, self.amount, accounts.payment(self.amount, self.currency)
            )
        ]
        if self.fee:
            booked.append(self.fee_transaction(self.fee, self.balance_transaction_id))
        return booked

    def fee_transaction(self, fee: int, balance_transaction_id: str | None) -> Transaction:
        """Stripe's fee on the charge (keyed `fee:<charge>`), on its balance transaction."""
        return self._transaction(
            Kind.FEE, fee, accounts.fee(fee, self.currency), balance_transaction_id
        )

    def movement(
        self,
        kind: Kind,
        *,
        source_id: str,
        amount: int,
        postings: list[accounts.Posting],
        occurred_at: datetime,
        balance_transaction_id: str | None = None,
        discriminator: str | None = None,
    ) -> Transaction:
        """A later movement on this payment (refund, dispute), attributed like the payment."""
        return Transaction(
            kind=kind,
            source_id=source_id,
            group_id=self.group_id,
            currency=self.currency,
            amount=amount,
            postings=postings,
            occurred_at=occurred_at,
            attribution=self.attribution,
            charge_id=self.charge_id,
            invoice_id=self.invoice_id,
            balance_transaction_id=balance_transaction_id,
            description=self.description,
            discriminator=discriminator,
        )
