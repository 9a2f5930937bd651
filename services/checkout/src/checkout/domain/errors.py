"""Checkout's domain errors; `entrypoints/errors.py` maps each to its HTTP status and code."""

from __future__ import annotations

from tollgate_shared.contracts.errors import (
    DomainError,
    PaymentProviderError,
    PaymentProviderTrouble,
    PaymentsUnavailable,
)

__all__ = ["PaymentProviderError", "PaymentProviderTrouble", "PaymentsUnavailable"]


class CheckoutError(DomainError):
    """Base of every error checkout raises on purpose."""


class NotFound(CheckoutError):
    pass


class NotAllowed(CheckoutError):
    pass


class Invalid(CheckoutError):
    """The request can never succeed as it is (unknown coupon, foreign redirect URL...)."""


class Conflict(CheckoutError):
    """The request conflicts with the current state (tier full, already a member...)."""


class PaymentRequired(CheckoutError):
    pass


class IdempotencyKeyReused(CheckoutError):
    pass
