"""The ledger's domain errors; entrypoints map them to HTTP statuses (`entrypoints/errors.py`)
and ack decisions."""

from tollgate_shared.contracts.errors import DomainError


class LedgerError(DomainError):
    """Base of the ledger's domain errors."""


class UnbalancedTransaction(LedgerError):
    """Entries that do not sum to zero per currency."""


class NotAttributable(LedgerError):
    """A payment whose group cannot be known (yet) from Stripe's metadata."""


class InsufficientBalance(LedgerError):
    """A payout larger than what the group has available."""


class InvalidState(LedgerError):
    """An operation that the object's current state does not allow."""


class AlreadyDecided(InvalidState):
    """A decision on a payout request that another decision already took."""


class IdempotencyKeyReused(LedgerError):
    """An Idempotency-Key sent again with a request other than the one it was first sent with."""


class StripeUnavailable(LedgerError):
    """Stripe did not answer (or not yet): the outcome is unknown, the same call may be retried."""


class NotFound(LedgerError):
    """An object that does not exist (or that the caller may not see)."""
