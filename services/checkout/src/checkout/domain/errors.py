"""Checkout's domain errors; entrypoints map each to an HTTP status."""

from __future__ import annotations


class CheckoutError(Exception):
    """Base of every error checkout raises on purpose."""

    code = "checkout_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.code


class NotFound(CheckoutError):
    code = "not_found"


class NotAllowed(CheckoutError):
    code = "forbidden"


class Invalid(CheckoutError):
    """The request can never succeed as it is (unknown coupon, foreign redirect URL...)."""

    code = "invalid_request"


class Conflict(CheckoutError):
    """The request conflicts with the current state (tier full, already a member...)."""

    code = "conflict"


class PaymentRequired(CheckoutError):
    code = "payment_required"


class IdempotencyKeyReused(CheckoutError):
    code = "idempotency_key_reused"


class PaymentsUnavailable(CheckoutError):
    """Stripe is not configured, or did not answer."""

    code = "payments_unavailable"


class PaymentProviderError(CheckoutError):
    """Stripe refused a request we expected it to accept."""

    code = "payment_provider_error"
