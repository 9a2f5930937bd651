"""Stripe, as membership uses it: read subscriptions (when their events cannot tell), cancel
superseded ones, and make the changes members ask for (ending, resuming, refunding)."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import stripe
from stripe.params import SubscriptionUpdateParams, SubscriptionUpdateParamsPauseCollection

from membership.domain.model import StripeTime, SubscriptionRecord
from membership.domain.self_service import PauseBehavior, ProrationBehavior
from tollgate_shared.contracts.stripe_objects import Invoice, Price, Subscription
from tollgate_shared.infra.stripe_client import (
    idempotency_key,
    product_id_of,
)

LIVE_SUBSCRIPTIONS_READ = 100
"""A customer's live subscriptions read at once (one page: a member holds a handful)."""


def _parse(obj: Any) -> Subscription:
    return Subscription.model_validate(obj.to_dict())


@dataclass(frozen=True)
class Paid:
    """A paid invoice's payment: its payment intent, amount and currency."""

    payment_intent_id: str
    amount: int
    currency: str


@dataclass(frozen=True)
class TierOffer:
    """A tier as Stripe sells it: its group, whether it is on sale, the metadata a switch
    carries over (`tier_interval`, `credit_allowances`), and its recurring price if any."""

    tier_id: str
    group_id: str | None
    active: bool
    metadata: dict[str, str]
    price: Price | None


@dataclass(frozen=True)
class Read:
    """A subscription as Stripe answered, and when that answer was true."""

    subscription: Subscription
    at: StripeTime


@dataclass(frozen=True)
class Switched:
    """A tier switch as Stripe answered: the subscription, and for a change waiting for its
    payment, the invoice to pay and its client secret (Stripe.js confirms it)."""

    read: Read
    client_secret: str | None = None
    invoice_id: str | None = None


async def _timed(call: Awaitable[Any]) -> tuple[Any, StripeTime]:
    """Stripe's answer and the seconds it was taken between: by our clock around the call and
    by Stripe's (its `Date` header, less the round trip), whichever is wider, so that neither
    clock's skew makes the answer look older or newer than it is."""
    started = time.time()
    answer = await call
    ended = time.time()
    since, until = int(started), int(ended)
    response = getattr(answer, "last_response", None)
    date = response.headers.get("date") if response is not None else None
    if date:
        stripe_now = parsedate_to_datetime(date).timestamp()
        since, until = min(since, int(stripe_now - (ended - started))), max(until, int(stripe_now))
    return answer, StripeTime(since, until)


class StripeBilling:
    """The few Stripe calls membership makes, through the shared client."""

    def __init__(self, client: stripe.StripeClient) -> None:
        self._client = client

    async def subscription(self, subscription_id: str) -> Read:
        """The subscription as Stripe has it now."""
        answer, at = await _timed(self._client.v1.subscriptions.retrieve_async(subscription_id))
        return Read(_parse(answer), at)

    async def live_subscriptions(self, customer_id: str) -> tuple[list[Subscription], StripeTime]:
        """The customer's subscriptions that are not canceled, as Stripe has them now."""
        page, at = await _timed(
            self._client.v1.subscriptions.list_async(
                {"customer": customer_id, "limit": LIVE_SUBSCRIPTIONS_READ}
            )
        )
        return [_parse(each) for each in page.data], at

    async def cancel_superseded(self, old_id: str, new_id: str) -> Read:
        """Cancel `old_id` because `new_id` replaces it; once per pair, even when retried (a
        replayed answer is as new as a fresh one: nothing changes a canceled subscription)."""
        try:
            cancelled, at = await _timed(
                self._client.v1.subscriptions.cancel_async(
                    old_id,
                    options={
                        "idempotency_key": idempotency_key("cancel-superseded", old_id, new_id)
                    },
                )
            )
        except stripe.InvalidRequestError as exc:
            if exc.code != "resource_missing":
                raise
            return await self.subscription(old_id)
        return Read(_parse(cancelled), at)

    async def schedule_end(self, subscription_id: str, *, at_period_end: bool) -> Read:
        """End the subscription when its paid period ends, or take that back (resume)."""
        answer, at = await _timed(
            self._client.v1.subscriptions.update_async(
                subscription_id, {"cancel_at_period_end": at_period_end}
            )
        )
        return Read(_parse(answer), at)

    async def pause(
        self, subscription_id: str, behavior: PauseBehavior, resumes_at: int | None
    ) -> Read:
        """Pause the subscription's payment collection: the invoices made meanwhile become
        `behavior` (void, uncollectible or drafts) until it resumes (at `resumes_at`)."""
        pause: SubscriptionUpdateParamsPauseCollection = {"behavior": behavior}
        if resumes_at is not None:
            pause["resumes_at"] = resumes_at
        answer, at = await _timed(
            self._client.v1.subscriptions.update_async(subscription_id, {"pause_collection": pause})
        )
        return Read(_parse(answer), at)

    async def resume(
        self, current: SubscriptionRecord, *, collection: bool, ending: bool, restart: bool
    ) -> Read:
        """Take back a pause of collection and/or an end at period end; with `restart`, the
        period restarts now and is charged at once (once per period, even when retried)."""
        params: SubscriptionUpdateParams = (
            {"billing_cycle_anchor": {"type": "now"}, "proration_behavior": "none"}
            if restart
            else {}
        )
        if collection:
            params["pause_collection"] = ""  # Stripe unsets a field sent empty
        if ending:
            params["cancel_at_period_end"] = False
        options: stripe.RequestOptions = {}
        if restart:  # charges: keyed by the period it restarts (setting states needs no key)
            period = str(int(current.period_start.timestamp())) if current.period_start else ""
            options["idempotency_key"] = idempotency_key("restart", current.id, period)
        answer, at = await _timed(
            self._client.v1.subscriptions.update_async(current.id, params, options=options)
        )
        return Read(_parse(answer), at)

    async def cancel_now(self, subscription_id: str) -> Read:
        """Cancel the subscription now, once even when retried (a canceled one reads as is)."""
        try:
            answer, at = await _timed(
                self._client.v1.subscriptions.cancel_async(
                    subscription_id,
                    options={"idempotency_key": idempotency_key("cancel-now", subscription_id)},
                )
            )
        except stripe.InvalidRequestError as exc:
            if exc.code != "resource_missing":
                raise
            return await self.subscription(subscription_id)
        return Read(_parse(answer), at)

    async def last_payment(self, invoice_id: str) -> Paid | None:
        """What paid the invoice: its payment intent and the amount (None if unpaid)."""
        page = await self._client.v1.invoice_payments.list_async(
            {"invoice": invoice_id, "limit": 10}
        )
        for payment in page.data:
            intent = payment.payment.payment_intent
            if payment.status == "paid" and intent:
                intent_id = intent if isinstance(intent, str) else intent.id
                return Paid(intent_id, int(payment.amount_paid or 0), str(payment.currency))
        return None

    async def refund(self, paid: Paid, amount: int, *, subscription_id: str, by: str) -> str:
        """Refund `amount` of the payment, once per subscription (a retry answers the same)."""
        refund = await self._client.v1.refunds.create_async(
            {
                "payment_intent": paid.payment_intent_id,
                "amount": amount,
                "reason": "requested_by_customer",
                "metadata": {"subscription_id": subscription_id, "refunded_by": by},
            },
            options={"idempotency_key": idempotency_key("cancel-refund", subscription_id)},
        )
        return str(refund.id)

    async def tier_offer(self, tier_id: str, segment: str | None) -> TierOffer | None:
        """A tier as Stripe sells it (its product, made by checkout, and the recurring price of
        the member's segment, else the base one); None when Stripe knows no such tier."""
        try:
            product = await self._client.v1.products.retrieve_async(product_id_of(tier_id))
        except stripe.InvalidRequestError as exc:
            if exc.code != "resource_missing":
                raise
            return None
        prices = await self._client.v1.prices.list_async(
            {"product": product.id, "active": True, "type": "recurring", "limit": 100}
        )
        by_segment = {p.metadata.to_dict().get("segment", ""): p for p in prices.data}
        price = by_segment.get(segment or "") or by_segment.get("")
        meta = product.metadata.to_dict()
        return TierOffer(
            tier_id=tier_id,
            group_id=meta.get("group_id"),
            active=bool(product.active),
            metadata={k: meta[k] for k in ("tier_interval", "credit_allowances") if meta.get(k)},
            price=Price.model_validate(price.to_dict()) if price is not None else None,
        )

    async def preview_switch(
        self, subscription_id: str, item_id: str, price_id: str, behavior: str
    ) -> Invoice:
        """The invoice Stripe would make if the item moved to `price_id` now."""
        preview = await self._client.v1.invoices.create_preview_async(
            {
                "subscription": subscription_id,
                "subscription_details": {
                    "items": [{"id": item_id, "price": price_id}],
                    "proration_behavior": behavior,
                },
            }
        )
        return Invoice.model_validate(preview.to_dict())

    async def switch(
        self,
        subscription_id: str,
        item_id: str,
        price_id: str,
        behavior: ProrationBehavior,
        metadata: dict[str, str],
    ) -> Switched:
        """Move the item to `price_id` in place (prorated by `behavior`) with the tier's
        metadata, once per subscription and price, even when retried. Billed now
        (`always_invoice`), the change waits for its payment (`pending_if_incomplete`): when
        the card asks for 3-D Secure or declines, Stripe keeps it pending and the answer
        carries the invoice's client secret for the member to confirm."""
        params: SubscriptionUpdateParams = {
            "items": [{"id": item_id, "price": price_id}],
            "proration_behavior": behavior,
            "metadata": metadata,
        }
        if behavior == "always_invoice":
            params["payment_behavior"] = "pending_if_incomplete"
            params["expand"] = ["latest_invoice.confirmation_secret"]
        answer, at = await _timed(
            self._client.v1.subscriptions.update_async(
                subscription_id,
                params,
                options={"idempotency_key": idempotency_key("switch", subscription_id, price_id)},
            )
        )
        invoice = answer.latest_invoice if answer.pending_update else None
        secret = getattr(invoice, "confirmation_secret", None)
        return Switched(
            Read(_parse(answer), at),
            client_secret=secret.client_secret if secret else None,
            invoice_id=invoice.id if invoice is not None and not isinstance(invoice, str) else None,
        )
