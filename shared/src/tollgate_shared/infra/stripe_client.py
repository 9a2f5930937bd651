"""The Stripe client every service uses: Stripe itself in production, the emulator locally.

Every call that creates or changes something must pass an idempotency key derived from our
own ids (`idempotency_key`), so a retry or a redelivered event never acts twice.
"""

from __future__ import annotations

import hashlib

import stripe

from tollgate_shared.infra.settings import ServiceSettings

API_VERSION = "2026-07-29.dahlia"


def make_stripe_client(
    settings: ServiceSettings, *, max_network_retries: int = 2
) -> stripe.StripeClient:
    """An async-capable client; `STRIPE_API_BASE` (the emulator) overrides api.stripe.com."""
    base_addresses: dict[str, str | None] = {}
    if settings.stripe_api_base:
        base_addresses["api"] = settings.stripe_api_base
    return stripe.StripeClient(
        settings.stripe_secret_key,
        base_addresses=base_addresses,  # type: ignore[arg-type]
        stripe_version=API_VERSION,
        max_network_retries=max_network_retries,
        http_client=stripe.HTTPXClient(),
    )


def idempotency_key(action: str, *ids: str) -> str:
    """A stable key for `action` on our ids, e.g. `idempotency_key("cancel", old_sub, new_sub)`."""
    digest = hashlib.sha256("\x1f".join((action, *ids)).encode()).hexdigest()[:40]
    return f"tollgate-{action}-{digest}"
