"""Every Stripe call checkout makes, each with an idempotency key derived from our ids."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import stripe

from checkout.adapters.payments import (
    CONFIRMATION_SECRET,
    PENDING_SETUP,
    DiscountedSession,
    InvoicePage,
    MemberInvoice,
    Payment,
    Started,
)
from checkout.adapters.stripe_coupons import CouponsAtStripe, key_of
from checkout.domain.catalog import CatalogEntry, PriceSpec, Tier
from checkout.domain.checkout import SUBSCRIPTION_OUTCOME, CheckoutRecord
from checkout.domain.errors import Invalid
from tollgate_shared.contracts.stripe_objects import PaymentIntent
from tollgate_shared.infra.stripe_client import (
    product_id_of,
    stripe_errors_translated,
)

if TYPE_CHECKING:
    from stripe.params import (
        CustomerCreateParams,
        ProductCreateParams,
        ProductUpdateParams,
    )


class StripeGateway(CouponsAtStripe):
    """Checkout's view of Stripe: catalog sync, customers, sessions, portal, and the
    subscriptions and payment intents of the app's own card form."""

    def __init__(self, client: stripe.StripeClient) -> None:
        self._v1 = client.v1

    async def upsert_product(self, entry: CatalogEntry) -> str:
        """Create the entry's product, or bring it up to date; returns its id."""
        product_id = product_id_of(entry.id)
        metadata = {"tollgate_id": entry.id, "group_id": entry.group_id}
        if isinstance(entry, Tier):  # what a tier switch needs to know without checkout
            metadata.update(tier_interval=entry.interval, credit_allowances=entry.credit_metadata)
        created: ProductCreateParams = {
            "id": product_id,
            "name": entry.name,
            "active": entry.active,
            "metadata": metadata,
        }
        changed: ProductUpdateParams = {
            "name": entry.name,
            "active": entry.active,
            "metadata": metadata,
        }
        if entry.description:
            created["description"] = changed["description"] = entry.description
        with stripe_errors_translated():
            try:
                await self._v1.products.create_async(
                    created, key_of("product", entry.id, entry.version)
                )
            except stripe.InvalidRequestError as exc:
                if exc.code != "resource_already_exists":
                    raise
                await self._v1.products.update_async(
                    product_id, changed, key_of("product-update", entry.id, entry.version)
                )
        return product_id

    async def create_price(self, entry: CatalogEntry, spec: PriceSpec) -> str:
        """A new price for what `spec` charges (keyed by entry version: a change is a new price)."""
        params: dict[str, Any] = {
            "product": product_id_of(entry.id),
            "unit_amount": spec.amount,
            "currency": spec.currency,
            "metadata": {"tollgate_id": entry.id, "segment": spec.segment},
        }
        if spec.recurring:
            params["recurring"] = {"interval": spec.interval}
        key = key_of("price", entry.id, entry.version, spec.segment, spec.amount, spec.currency)
        with stripe_errors_translated():
            price = await self._v1.prices.create_async(params, key)  # type: ignore[arg-type]
        return price.id

    async def deactivate_price(self, price_id: str) -> None:
        """Stop selling a price (Stripe keeps it for existing subscriptions)."""
        with stripe_errors_translated():
            await self._v1.prices.update_async(
                price_id, {"active": False}, key_of("price-deactivate", price_id)
            )

    async def create_customer(self, user_id: str, email: str | None) -> str:
        """The user's Stripe customer (one per user, whatever the retries)."""
        params: CustomerCreateParams = {"metadata": {"user_id": user_id}}
        if email:
            params["email"] = email
        with stripe_errors_translated():
            customer = await self._v1.customers.create_async(params, key_of("customer", user_id))
        return customer.id

    async def create_checkout_session(
        self,
        record: CheckoutRecord,
        *,
        mode: Literal["subscription", "payment"],
        metadata: dict[str, str],
        customer_id: str,
        success_url: str,
        cancel_url: str,
        promotion_code_id: str | None,
        trial_days: int = 0,
        trial_end: datetime | None = None,
        description: str | None = None,
    ) -> Any:
        """The hosted Checkout Session for `record` (created once, whatever the retries); a
        subscription with `trial_days` starts trialing, and ends if no card is on file then.
        A one-time payment gets Stripe's paid invoice after it (`invoice_creation`), with the
        same metadata and `description`: subscriptions are invoiced anyway."""
        params: dict[str, Any] = {
            "mode": mode,
            "line_items": [{"price": record.price_id, "quantity": 1}],
            "client_reference_id": record.user_id,
            "customer": customer_id,
            "metadata": metadata,
            "success_url": success_url,
            "cancel_url": cancel_url,
            "expires_at": int(record.expires_at.timestamp()),
        }
        payment_data = "subscription_data" if mode == "subscription" else "payment_intent_data"
        params[payment_data] = {"metadata": metadata}
        if mode == "payment":
            invoice_data: dict[str, Any] = {"metadata": metadata}
            if description:
                invoice_data["description"] = description
            params["invoice_creation"] = {"enabled": True, "invoice_data": invoice_data}
        if mode == "subscription":
            params["subscription_data"].update(_trial(trial_days, trial_end))
        if promotion_code_id is not None:
            params["discounts"] = [{"promotion_code": promotion_code_id}]
        elif record.purpose == "membership":
            params["allow_promotion_codes"] = True
        with stripe_errors_translated():
            return await self._v1.checkout.sessions.create_async(
                params,  # type: ignore[arg-type]
                key_of("checkout-session", record.id),
            )

    async def expire_session(self, stripe_session_id: str) -> str:
        """Expire an open session; returns its final status (`complete` if paid meanwhile)."""
        with stripe_errors_translated():
            try:
                await self._v1.checkout.sessions.expire_async(
                    stripe_session_id, options=key_of("expire-session", stripe_session_id)
                )
            except stripe.InvalidRequestError:
                found = await self._v1.checkout.sessions.retrieve_async(stripe_session_id)
                return str(found.status)
        return "expired"

    async def retrieve_session(self, stripe_session_id: str) -> DiscountedSession:
        """A Checkout Session as Stripe has it now."""
        with stripe_errors_translated():
            found = await self._v1.checkout.sessions.retrieve_async(stripe_session_id)
        return DiscountedSession.model_validate(found.to_dict())

    async def list_invoices(
        self, customer_id: str, *, limit: int, starting_after: str | None
    ) -> InvoicePage:
        """A page of the customer's invoices, newest first, from Stripe's cursor on; a cursor
        Stripe does not know is `Invalid`."""
        params: dict[str, Any] = {"customer": customer_id, "limit": limit}
        if starting_after is not None:
            params["starting_after"] = starting_after
        with stripe_errors_translated():
            try:
                found = await self._v1.invoices.list_async(params)  # type: ignore[arg-type]
            except stripe.InvalidRequestError as exc:
                if exc.param != "starting_after":
                    raise
                raise Invalid(
                    f"no invoice {starting_after} to page from", code="invalid_cursor"
                ) from None
        invoices = [MemberInvoice.model_validate(invoice.to_dict()) for invoice in found.data]
        return InvoicePage(invoices=invoices, has_more=bool(found.has_more))

    async def retrieve_invoice(self, invoice_id: str) -> MemberInvoice | None:
        """An invoice as Stripe has it now; None for an id Stripe knows nothing of."""
        with stripe_errors_translated():
            try:
                found = await self._v1.invoices.retrieve_async(invoice_id)
            except stripe.InvalidRequestError as exc:
                if exc.code != "resource_missing":
                    raise
                return None
        return MemberInvoice.model_validate(found.to_dict())

    async def portal_url(self, customer_id: str, return_url: str) -> str:
        """A billing portal session for the customer; returns its URL."""
        with stripe_errors_translated():
            portal = await self._v1.billing_portal.sessions.create_async(
                {"customer": customer_id, "return_url": return_url}
            )
        return portal.url

    async def create_subscription(
        self,
        record: CheckoutRecord,
        *,
        metadata: dict[str, str],
        customer_id: str,
        promotion_code_id: str | None,
        trial_days: int = 0,
        trial_end: datetime | None = None,
    ) -> Started:
        """The subscription of `record` for the app's own card form, as Stripe documents it for
        Elements: `incomplete` until the browser pays its first invoice; with a trial,
        `trialing` at once with a SetupIntent the browser confirms to save the card the trial's
        end bills (created once)."""
        params: dict[str, Any] = {
            "customer": customer_id,
            "items": [{"price": record.price_id, "quantity": 1}],
            "metadata": metadata,
            "payment_behavior": "default_incomplete",
            "payment_settings": {"save_default_payment_method": "on_subscription"},
            "expand": [CONFIRMATION_SECRET, PENDING_SETUP],
            **_trial(trial_days, trial_end),
        }
        if promotion_code_id is not None:
            params["discounts"] = [{"promotion_code": promotion_code_id}]
        with stripe_errors_translated():
            created = await self._v1.subscriptions.create_async(
                params,  # type: ignore[arg-type]
                key_of("subscription", record.id),
            )
        return Started.of_subscription(created.to_dict())

    async def create_payment_intent(
        self,
        record: CheckoutRecord,
        *,
        metadata: dict[str, str],
        customer_id: str,
        description: str,
    ) -> Started:
        """The PaymentIntent of `record` for the app's own card form (created once)."""
        params: dict[str, Any] = {
            "amount": record.amount,
            "currency": record.currency,
            "customer": customer_id,
            "description": description,
            "metadata": metadata,
            "automatic_payment_methods": {"enabled": True},
        }
        with stripe_errors_translated():
            created = await self._v1.payment_intents.create_async(
                params,  # type: ignore[arg-type]
                key_of("payment-intent", record.id),
            )
        return Started.of_intent(created.to_dict())

    async def retrieve_started(self, record: CheckoutRecord) -> Started:
        """A card-form checkout's subscription or PaymentIntent as Stripe has it now."""
        assert record.stripe_id is not None
        with stripe_errors_translated():
            if record.kind == "subscription":
                found = await self._v1.subscriptions.retrieve_async(
                    record.stripe_id, {"expand": [CONFIRMATION_SECRET, PENDING_SETUP]}
                )
                return Started.of_subscription(found.to_dict())
            intent = await self._v1.payment_intents.retrieve_async(record.stripe_id)
        return Started.of_intent(intent.to_dict())

    async def retrieve_payment(self, record: CheckoutRecord) -> Payment:
        """What Stripe says now of a purchase's payment (its session or PaymentIntent)."""
        assert record.stripe_id is not None
        if record.kind == "payment_intent":
            with stripe_errors_translated():
                intent = await self._v1.payment_intents.retrieve_async(record.stripe_id)
            return Payment.of_intent(PaymentIntent.model_validate(intent.to_dict()))
        return Payment.of_session(await self.retrieve_session(record.stripe_id))

    async def withdraw(self, record: CheckoutRecord) -> bool:
        """Make an earlier checkout unpayable at Stripe (expire the session, cancel the
        incomplete subscription or the PaymentIntent); False if it was paid, or is being
        paid, meanwhile."""
        assert record.stripe_id is not None
        if record.kind == "session":
            return await self.expire_session(record.stripe_id) != "complete"
        with stripe_errors_translated():
            if record.kind == "subscription":
                return await self._cancel_incomplete(record.stripe_id)
            try:
                await self._v1.payment_intents.cancel_async(
                    record.stripe_id, options=key_of("cancel-payment-intent", record.stripe_id)
                )
            except stripe.InvalidRequestError:  # no longer cancelable: paid, or being paid
                found = await self._v1.payment_intents.retrieve_async(record.stripe_id)
                return found.status == "canceled"
        return True

    async def _cancel_incomplete(self, subscription_id: str) -> bool:
        # Stripe cancels whatever the status: ask first, so a paid subscription stays.
        found = await self._v1.subscriptions.retrieve_async(subscription_id)
        if found.status == "incomplete":
            await self._v1.subscriptions.cancel_async(
                subscription_id, options=key_of("cancel-incomplete", subscription_id)
            )
            return True
        return SUBSCRIPTION_OUTCOME.get(found.status) != "paid"


def _trial(trial_days: int, trial_end: datetime | None) -> dict[str, Any]:
    """A subscription's trial parameters: until `trial_end` if given, else `trial_days`; a
    trial whose card is missing at its end cancels (it never bills nobody); none without one."""
    if not trial_days and trial_end is None:
        return {}
    trial: dict[str, Any] = (
        {"trial_end": int(trial_end.timestamp())}
        if trial_end
        else {"trial_period_days": trial_days}
    )
    return trial | {"trial_settings": {"end_behavior": {"missing_payment_method": "cancel"}}}
