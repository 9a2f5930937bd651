"""Why the gateway refuses a delivery, each mapped to Stripe-visible HTTP statuses."""

from __future__ import annotations

from tollgate_shared.errors import ApiError


class InvalidSignature(ApiError):
    status_code = 400
    code = "invalid_signature"


class InvalidEvent(ApiError):
    status_code = 400
    code = "invalid_event"


class PayloadTooLarge(ApiError):
    status_code = 413
    code = "payload_too_large"


class BrokerUnavailable(ApiError):
    """JetStream did not confirm storage: Stripe must retry later."""

    status_code = 503
    code = "broker_unavailable"
