"""The HTTP answers of the ledger's domain errors."""

from __future__ import annotations

from ledger.domain import errors
from tollgate_shared.contracts.errors import DomainError
from tollgate_shared.web.errors import ErrorStatus, StatusMap

STATUS: StatusMap = {
    errors.LedgerError: ErrorStatus(400, "bad_request"),
    errors.NotFound: ErrorStatus(404, "not_found"),
    errors.InsufficientBalance: ErrorStatus(409, "insufficient_balance"),
    errors.InvalidState: ErrorStatus(409, "conflict"),
    errors.AlreadyDecided: ErrorStatus(409, "already_decided"),
    errors.NotAttributable: ErrorStatus(409, "not_attributable"),
    errors.IdempotencyKeyReused: ErrorStatus(422, "idempotency_key_reused"),
    errors.StripeUnavailable: ErrorStatus(503, "payments_unavailable"),
}


def status_of(exc: DomainError) -> int:
    """The HTTP status `exc` answers with (its nearest mapped class's; else 400)."""
    return next((STATUS[c].status for c in type(exc).__mro__ if c in STATUS), 400)
