"""The HTTP answers of checkout's domain errors."""

from __future__ import annotations

from checkout.domain import errors
from tollgate_shared.web.errors import ErrorStatus, StatusMap

STATUS: StatusMap = {
    errors.NotFound: ErrorStatus(404, "not_found"),
    errors.NotAllowed: ErrorStatus(403, "forbidden"),
    errors.Invalid: ErrorStatus(422, "invalid_request"),
    errors.IdempotencyKeyReused: ErrorStatus(422, "idempotency_key_reused"),
    errors.Conflict: ErrorStatus(409, "conflict"),
    errors.PaymentRequired: ErrorStatus(402, "payment_required"),
    errors.PaymentsUnavailable: ErrorStatus(503, "payments_unavailable"),
    errors.PaymentProviderError: ErrorStatus(502, "payment_provider_error"),
}
