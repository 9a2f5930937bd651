"""The Stripe calls the ledger makes, answering with the shared models."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, TypeVar

import stripe

from tollgate_shared.contracts.stripe_objects import (
    BalanceTransaction,
    Charge,
    CustomerDetails,
    Invoice,
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


class BookedTransfer(Transfer):
    balance_transaction: Ref = None


class BookedPayout(Payout):
    balance_transaction: Ref = None
    failure_message: str | None = None


def _parse(model: type[M], obj: stripe.StripeObject) -> M:
    return model.model_validate(obj.to_dict())


class StripeGateway:
    """Reads the current state of Stripe's objects and makes the ledger's changes, idempotently."""

    def __init__(self, client: stripe.StripeClient) -> None:
        self._v1 = client.v1

    async def charge(self, charge_id: str) -> PaidCharge:
        """The charge with its balance transaction (and so its fee) expanded."""
        obj = await self._v1.charges.retrieve_async(charge_id, {"expand": ["balance_transaction"]})
        return _parse(PaidCharge, obj)

    async def invoice_for_payment_intent(self, payment_intent_id: str) -> Invoice | None:
        """The invoice a payment intent paid, if any (current API: via invoice payments)."""
        page = await self._v1.invoice_payments.list_async(
            {"payment": {"type": "payment_intent", "payment_intent": payment_intent_id}}
        )
        for payment in page.data:
            invoice_id = payment.to_dict().get("invoice")
            if invoice_id:
                return _parse(Invoice, await self._v1.invoices.retrieve_async(str(invoice_id)))
        return None

    async def latest_charge_of(self, payment_intent_id: str) -> str | None:
        """The id of the payment intent's latest charge."""
        intent = await self._v1.payment_intents.retrieve_async(payment_intent_id)
        return _parse(PaymentIntent, intent).latest_charge

    async def invoice_payment_intent(self, invoice_id: str) -> str | None:
        """The payment intent that paid an invoice (current API: via invoice payments)."""
        page = await self._v1.invoice_payments.list_async({"invoice": invoice_id})
        for payment in page.data:
            inner = payment.to_dict().get("payment") or {}
            if inner.get("payment_intent"):
                return str(inner["payment_intent"])
        return None

    async def refund(self, refund_id: str) -> Refund:
        """The refund as it is now."""
        return _parse(Refund, await self._v1.refunds.retrieve_async(refund_id))

    async def refunds_of(self, charge_id: str) -> list[Refund]:
        """Every refund of a charge."""
        page = await self._v1.refunds.list_async({"charge": charge_id, "limit": 100})
        return [_parse(Refund, r) async for r in page.auto_paging_iter()]

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

    async def balance_transaction(self, txn_id: str) -> SourcedBalanceTransaction:
        """One balance transaction."""
        obj = await self._v1.balance_transactions.retrieve_async(txn_id)
        return _parse(SourcedBalanceTransaction, obj)
