"""The HTTP answers of membership's domain errors."""

from __future__ import annotations

from membership.domain import errors
from tollgate_shared.contracts.errors import PaymentProviderError, PaymentsUnavailable
from tollgate_shared.web.errors import ErrorStatus, StatusMap

STATUS: StatusMap = {
    errors.GrantNotFound: ErrorStatus(404, "not_found"),
    errors.MembershipNotFound: ErrorStatus(404, "not_found"),
    errors.NotASubscription: ErrorStatus(409, "not_a_subscription"),
    errors.TierNotFound: ErrorStatus(404, "not_found"),
    errors.ForeignTier: ErrorStatus(403, "foreign_tier"),
    errors.TierNotSwitchable: ErrorStatus(409, "tier_not_switchable"),
    errors.TierFull: ErrorStatus(409, "tier_full"),
    errors.PauseNotAllowed: ErrorStatus(403, "pause_not_allowed"),
    PaymentsUnavailable: ErrorStatus(503, "payments_unavailable"),
    PaymentProviderError: ErrorStatus(502, "payment_provider_error"),
    errors.NotAMember: ErrorStatus(409, "not_a_member"),
    errors.InsufficientCredits: ErrorStatus(409, "insufficient_credits"),
    errors.IdempotencyKeyReused: ErrorStatus(422, "idempotency_key_reused"),
}
