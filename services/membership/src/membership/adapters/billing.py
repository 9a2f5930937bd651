"""Stripe, as membership uses it: read subscriptions and customers, cancel superseded ones."""

from __future__ import annotations

from typing import Any

import stripe

from tollgate_shared.events.stripe import Subscription
from tollgate_shared.stripe_client import idempotency_key


def _parse(obj: Any) -> Subscription:
    return Subscription.model_validate(obj.to_dict())


class StripeBilling:
    """The few Stripe calls membership makes, through the shared client."""

    def __init__(self, client: stripe.StripeClient) -> None:
        self._client = client

    async def subscription(self, subscription_id: str) -> Subscription:
        """The subscription as Stripe has it now."""
        return _parse(await self._client.v1.subscriptions.retrieve_async(subscription_id))

    async def customer_email(self, customer_id: str) -> str | None:
        """The customer's email, if Stripe has one."""
        customer = await self._client.v1.customers.retrieve_async(customer_id)
        return getattr(customer, "email", None)

    async def cancel_superseded(self, old_id: str, new_id: str) -> Subscription:
        """Cancel `old_id` because `new_id` replaces it; once per pair, even when retried."""
        try:
            cancelled = await self._client.v1.subscriptions.cancel_async(
                old_id,
                options={"idempotency_key": idempotency_key("cancel-superseded", old_id, new_id)},
            )
        except stripe.InvalidRequestError as exc:
            if exc.code != "resource_missing":
                raise
            return await self.subscription(old_id)
        return _parse(cancelled)
