"""The base of every service's domain errors (its `domain/errors.py`)."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Something a service refuses or cannot do, in the domain's words and without HTTP: the
    service's `entrypoints/errors.STATUS` says which status and code each class answers."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        """A reason more specific than the class's code (`tier_full`), answered instead of it."""
        self.details = details
        """What the caller needs to correct the request (`error.details`)."""
        self.retry_after = retry_after
        """Seconds after which the same request may succeed (`Retry-After`)."""


class PaymentProviderTrouble(DomainError):
    """Stripe could not do what a request asked (see the two kinds below)."""


class PaymentsUnavailable(PaymentProviderTrouble):
    """Stripe is not configured, or did not answer (every service answers 503)."""


class PaymentProviderError(PaymentProviderTrouble):
    """Stripe refused a request we expected it to accept (every service answers 502)."""
