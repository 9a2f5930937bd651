"""The Stripe calls the ledger makes, answering with the shared models."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import stripe
from pydantic import BaseModel, ConfigDict, Field

from tollgate_shared.contracts.stripe_objects import (
    BalanceTransaction,
    Charge,
    CustomerDetails,
    PaymentIntent,
    Payout,
    Ref,
    Refund,
    StripeObject,
    Transfer,
)

if TYPE_CHECKING:
    from stripe.params import RefundCreateParams

    from ledger.domain.payments import RefundReason

M = TypeVar("M", bound=StripeObject)
LIST_PATH = "/v1/balance_transactions"


class SourcedBalanceTransaction(BalanceTransaction):
    """A balance transaction with the object that caused it."""

    source: Ref = None
    reporting_category: str | None = None


class PaidCharge(Charge):
    """A charge with the fields the ledger shows about it."""

    description: str | None = None
    billing_details: CustomerDetails | None = None

    @property
    def email(self) -> str | None:
        """The payer's email as the charge knows it."""
        if self.billing_details and self.billing_details.email:
            return self.billing_details.email
        return self.receipt_email


class PaidIntent(PaymentIntent):
    """A payment intent with the payer's email, when it has one."""

    receipt_email: str | None = None


class PaidBy(BaseModel):
    """What paid an invoice: a payment intent, or a charge made without one."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: str | None = None
    payment_intent: Ref = None
    charge: Ref = None


class InvoicePayment(StripeObject):
    """Stripe's link of an invoice to what paid it (`invoice_payment.paid`)."""

    invoice: Ref = None
    amount_paid: int | None = None
    currency: str | None = None
    status: str | None = None
    payment: PaidBy = Field(default_factory=PaidBy)


class BookedTransfer(Transfer):
    balance_transaction: Ref = None


class BookedPayout(Payout):
    balance_transaction: Ref = None
    failure_message: str | None = None


class _Page(BaseModel):
    """A page of a list, read from its JSON: the SDK's objects cost more to build than the page
    costs to fetch."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    data: list[SourcedBalanceTransaction]
    has_more: bool = False


def _parse(model: type[M], obj: stripe.StripeObject) -> M:
    return model.model_validate(obj.to_dict())


class StripeGateway:
    """Reads the current state of Stripe's objects and makes the ledger's changes, idempotently."""

    def __init__(self, client: stripe.StripeClient) -> None:
        self._client = client
        self._v1 = client.v1

    async def payout(self, payout_id: str) -> BookedPayout:
        """The payout as it is now."""
        return _parse(BookedPayout, await self._v1.payouts.retrieve_async(payout_id))

    async def create_refund(
        self,
        charge_id: str,
        *,
        amount: int | None,
        reason: RefundReason | None,
        metadata: Mapping[str, str],
        idempotency_key: str,
    ) -> Refund:
        """Ask Stripe to refund all (`amount` None) or part of a charge."""
        params: RefundCreateParams = {"charge": charge_id, "metadata": dict(metadata)}
        if amount is not None:
            params["amount"] = amount
        if reason:
            params["reason"] = reason
        obj = await self._v1.refunds.create_async(params, {"idempotency_key": idempotency_key})
        return _parse(Refund, obj)

    async def create_transfer(
        self,
        *,
        amount: int,
        currency: str,
        destination: str,
        metadata: Mapping[str, str],
        transfer_group: str,
        idempotency_key: str,
    ) -> BookedTransfer:
        """Send funds to a connected account."""
        obj = await self._v1.transfers.create_async(
            {
                "amount": amount,
                "currency": currency,
                "destination": destination,
                "metadata": dict(metadata),
                "transfer_group": transfer_group,
            },
            {"idempotency_key": idempotency_key},
        )
        return _parse(BookedTransfer, obj)

    async def transfer_in_group(self, transfer_group: str) -> BookedTransfer | None:
        """The transfer made with `transfer_group`, if any."""
        page = await self._v1.transfers.list_async({"transfer_group": transfer_group, "limit": 1})
        return _parse(BookedTransfer, page.data[0]) if page.data else None

    async def balance_transactions(
        self, *, created_from: int, created_to: int
    ) -> list[SourcedBalanceTransaction]:
        """Every balance transaction created in [from, to)."""
        page = await self._v1.balance_transactions.list_async(
            {"created": {"gte": created_from, "lt": created_to}, "limit": 100}
        )
        return [_parse(SourcedBalanceTransaction, t) async for t in page.auto_paging_iter()]

    async def balance_transactions_of_type(
        self, kind: str, *, created_from: int, created_to: int
    ) -> AsyncIterator[SourcedBalanceTransaction]:
        """The balance transactions of type `kind` created in [from, to), newest first, in pages of
        100."""
        params: dict[str, Any] = {
            "type": kind,
            "created": {"gte": created_from, "lt": created_to},
            "limit": 100,
        }
        while True:
            answer = await self._client.raw_request_async(
                "get", "/v1/balance_transactions", **params
            )
            page = _Page.model_validate(answer.data)
            for txn in page.data:
                yield txn
            if not (page.has_more and page.data):
                return
            params["starting_after"] = page.data[-1].id

    async def balance_transaction(self, txn_id: str) -> SourcedBalanceTransaction:
        """One balance transaction."""
        obj = await self._v1.balance_transactions.retrieve_async(txn_id)
        return _parse(SourcedBalanceTransaction, obj)
