"""Membership's domain errors; `entrypoints/errors.py` maps those a route can meet to HTTP."""

from tollgate_shared.contracts.errors import DomainError


class MembershipError(DomainError):
    """Base of the errors membership raises on purpose."""


class NotAMembership(MembershipError):
    """A Stripe object says it is a membership but lacks the metadata to place it."""


class GrantNotFound(MembershipError):
    """No grant exists for that user in that group."""


class InsufficientCredits(MembershipError):
    """A spend asked for more credits than the balance holds."""

    def __init__(self, kind: str, amount: int, balance: int) -> None:
        super().__init__(
            f"the {kind} balance is {balance}, less than {amount}",
            details={"kind": kind, "balance": balance},
        )


class NotAMember(MembershipError):
    """Credits can be spent only during an active membership."""


class IdempotencyKeyReused(MembershipError):
    """The same idempotency key came with a different request."""


class MembershipNotFound(MembershipError):
    """The user never had a membership of that group."""


class NotASubscription(MembershipError):
    """The membership has no running subscription to change (one-time, granted or ended)."""


class TierNotFound(MembershipError):
    """No tier of that id is sold (Stripe knows no product for it)."""


class ForeignTier(MembershipError):
    """The tier belongs to another group than the membership."""


class TierNotSwitchable(MembershipError):
    """The tier cannot replace a subscription's price in place (off sale, not recurring, or
    billed at another interval: buy it through checkout)."""


class TierFull(MembershipError):
    """The tier has no room left (its capacity as checkout announced it)."""


class PauseNotAllowed(MembershipError):
    """The group's organizers do not let members pause payment collection."""
