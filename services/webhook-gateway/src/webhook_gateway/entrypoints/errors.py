"""The HTTP answers of the gateway's domain errors."""

from __future__ import annotations

from tollgate_shared.web.errors import ErrorStatus, StatusMap
from webhook_gateway.domain import errors

STATUS: StatusMap = {
    errors.InvalidSignature: ErrorStatus(400, "invalid_signature"),
    errors.InvalidEvent: ErrorStatus(400, "invalid_event"),
    errors.PayloadTooLarge: ErrorStatus(413, "payload_too_large"),
    # with the `Retry-After` the error carries: Stripe retries then
    errors.BrokerUnavailable: ErrorStatus(503, "broker_unavailable"),
}
