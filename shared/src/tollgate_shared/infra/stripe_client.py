"""The Stripe client every service uses: Stripe itself in production, the emulator locally.

Every call that creates or changes something must pass an idempotency key derived from our
own ids (`idempotency_key`), so a retry or a redelivered event never acts twice. Every request
first spends from the account's shared budget (`infra.stripe_budget`).
"""

from __future__ import annotations

import contextlib
import hashlib
import random
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import stripe

from tollgate_shared.contracts.errors import PaymentProviderError, PaymentsUnavailable
from tollgate_shared.infra.settings import ServiceSettings
from tollgate_shared.infra.stripe_budget import (
    Priority,
    Rates,
    StripeBudget,
    StripeBusy,
    current_priority,
)
from tollgate_shared.observability.tracing import client_span

API_VERSION = "2026-07-29.dahlia"
STRIPE_API = "https://api.stripe.com"


class BudgetedHTTPClient(stripe.HTTPXClient):
    """Stripe's HTTPX client behind the account's budget. A consumer's message that meets a
    spent budget or Stripe's 429 gets `StripeBusy` (it is delivered again later) instead of
    sleeping through the SDK's retries; other calls wait for a slot and retry 429s as the SDK
    does."""

    def __init__(self, budget: StripeBudget | None) -> None:
        super().__init__()
        self.budget = budget

    async def request_async(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        path = urlsplit(url).path
        if self.budget is not None:
            await self.budget.spend(method, path)
        with client_span(
            f"stripe {method.upper()}", **{"http.request.method": method, "url.path": path}
        ):
            content, status, answer = await super().request_async(method, url, headers, post_data)
        if status == 429 and current_priority() is Priority.POSTPONABLE:
            raise StripeBusy(
                f"Stripe answered 429 to {method} {path}",
                retry_after=1.0 + random.random(),  # noqa: S311 -- jitter, not a secret
            )
        return content, status, answer


def stripe_rates(settings: ServiceSettings) -> Rates | None:
    """The account's rates: `STRIPE_RATE_LIMIT`, else Stripe's by the key's mode, with a margin;
    None (unlimited) when told 0, or by default against an API other than Stripe's."""
    per_second = settings.stripe_rate_limit
    if per_second is None:
        if settings.stripe_api_base and settings.stripe_api_base.rstrip("/") != STRIPE_API:
            return None
        per_second = 90.0 if "_live_" in settings.stripe_secret_key else 22.0
    if per_second == 0:
        return None
    return Rates(
        per_second=per_second,
        per_endpoint=settings.stripe_endpoint_rate_limit,
        background_share=settings.stripe_background_share,
    )


def make_stripe_client(
    settings: ServiceSettings, *, max_network_retries: int = 2
) -> stripe.StripeClient:
    """An async-capable client; `STRIPE_API_BASE` (the emulator) overrides api.stripe.com."""
    base_addresses: dict[str, str | None] = {}
    if settings.stripe_api_base:
        base_addresses["api"] = settings.stripe_api_base
    rates = stripe_rates(settings)
    budget = (
        None
        if rates is None
        else StripeBudget(
            settings.stripe_secret_key,
            rates,
            settings.nats_url,
            replicas=settings.nats_stream_replicas,
        )
    )
    return stripe.StripeClient(
        settings.stripe_secret_key,
        base_addresses=base_addresses,  # type: ignore[arg-type]
        stripe_version=API_VERSION,
        max_network_retries=max_network_retries,
        http_client=BudgetedHTTPClient(budget),
    )


def product_id_of(entry_id: str) -> str:
    """The Stripe product of a tier or item: derived from its id, so checkout creates it once
    and membership finds a tier's prices (a tier switch) without asking checkout."""
    return f"tollgate_{entry_id}"


def idempotency_key(action: str, *ids: str) -> str:
    """A stable key for `action` on our ids, e.g. `idempotency_key("cancel", old_sub, new_sub)`."""
    digest = hashlib.sha256("\x1f".join((action, *ids)).encode()).hexdigest()[:40]
    return f"tollgate-{action}-{digest}"


@contextlib.contextmanager
def stripe_errors_translated() -> Iterator[None]:
    """Stripe's errors in a request's path as domain errors: no answer or a 429 →
    `PaymentsUnavailable` (503), a refusal → `PaymentProviderError` (502)."""
    try:
        yield
    except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
        raise PaymentsUnavailable(f"Stripe did not answer: {exc.user_message}") from None
    except stripe.StripeError as exc:
        raise PaymentProviderError(f"Stripe refused the request: {exc.user_message}") from None
