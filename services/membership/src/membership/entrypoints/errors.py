"""The HTTP answers of membership's domain errors."""

from __future__ import annotations

from membership.domain import errors
from tollgate_shared.web.errors import ErrorStatus, StatusMap

STATUS: StatusMap = {
    errors.GrantNotFound: ErrorStatus(404, "not_found"),
    errors.NotAMember: ErrorStatus(409, "not_a_member"),
    errors.InsufficientCredits: ErrorStatus(409, "insufficient_credits"),
    errors.IdempotencyKeyReused: ErrorStatus(422, "idempotency_key_reused"),
}
