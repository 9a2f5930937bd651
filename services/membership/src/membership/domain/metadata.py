"""The metadata contract on Checkout Sessions, subscriptions and payment intents."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from membership.domain.credits import parse_allowances
from membership.domain.errors import NotAMembership
from membership.domain.model import MembershipKey


def is_membership(metadata: Mapping[str, str]) -> bool:
    """Whether the metadata is a membership's (`purpose=membership`), placeable or not."""
    return metadata.get("purpose") == "membership"


@dataclass(frozen=True)
class MembershipMetadata:
    """Who bought which tier of which group (`purpose=membership`)."""

    user_id: str
    group_id: str
    tier_id: str | None
    tier_interval: str | None
    term_days: int | None
    previous_subscription_id: str | None
    credit_allowances: Mapping[str, int] = field(default_factory=dict)
    """Credits per billing cycle by kind (`credit_allowances=booking=10,...`)."""

    @property
    def key(self) -> MembershipKey:
        """The membership (user and group) the metadata is about."""
        return MembershipKey(self.user_id, self.group_id)

    @classmethod
    def parse(
        cls, metadata: Mapping[str, str], *, fallback_user_id: str | None = None
    ) -> MembershipMetadata | None:
        """None for anything that is not a membership; NotAMembership if it cannot be placed."""
        if not is_membership(metadata):
            return None
        user_id = metadata.get("user_id") or fallback_user_id
        group_id = metadata.get("group_id")
        if not user_id or not group_id:
            raise NotAMembership(f"membership metadata without user_id/group_id: {dict(metadata)}")
        term_days = metadata.get("term_days")
        if term_days is not None and (not term_days.isdigit() or int(term_days) == 0):
            raise NotAMembership(f"term_days is not a positive integer: {term_days!r}")
        return cls(
            user_id=user_id,
            group_id=group_id,
            tier_id=metadata.get("tier_id") or None,
            tier_interval=metadata.get("tier_interval") or None,
            term_days=int(term_days) if term_days else None,
            previous_subscription_id=metadata.get("previous_subscription_id") or None,
            credit_allowances=parse_allowances(metadata.get("credit_allowances")),
        )
