"""Why the gateway refuses a delivery; `entrypoints/errors.py` maps each to the status Stripe
sees."""

from __future__ import annotations

from tollgate_shared.contracts.errors import DomainError


class InvalidSignature(DomainError):
    """The delivery is not provably from Stripe (the code says why)."""


class InvalidEvent(DomainError):
    """The body is not a Stripe event this endpoint takes."""


class PayloadTooLarge(DomainError):
    """The body exceeds the configured limit."""


class BrokerUnavailable(DomainError):
    """JetStream did not confirm storage: Stripe must retry later."""
