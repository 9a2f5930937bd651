"""Membership's domain errors."""


class MembershipError(Exception):
    """Base of the errors membership raises on purpose."""


class NotAMembership(MembershipError):
    """A Stripe object says it is a membership but lacks the metadata to place it."""


class GrantNotFound(MembershipError):
    """No grant exists for that user in that group."""
