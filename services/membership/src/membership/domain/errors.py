"""Membership's domain errors."""


class MembershipError(Exception):
    """Base of the errors membership raises on purpose."""


class NotAMembership(MembershipError):
    """A Stripe object says it is a membership but lacks the metadata to place it."""


class GrantNotFound(MembershipError):
    """No grant exists for that user in that group."""


class InsufficientCredits(MembershipError):
    """A spend asked for more credits than the balance holds."""

    def __init__(self, kind: str, amount: int, balance: int) -> None:
        super().__init__(f"spending {amount} {kind} credits needs more than the balance {balance}")
        self.balance = balance


class NotAMember(MembershipError):
    """Credits can be spent only during an active membership."""


class IdempotencyKeyReused(MembershipError):
    """The same idempotency key came with a different request."""
