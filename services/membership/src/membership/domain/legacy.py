"""Choosing which members of an older system get a legacy grant."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class LegacyMember:
    """A member of an older system to migrate."""

    user_id: str
    email: str | None = None
    member_since: datetime | None = None


@dataclass(frozen=True)
class BulkResult:
    granted: list[str]
    skipped: dict[str, str]


def choose_legacy(
    members: Sequence[LegacyMember], *, cutoff: datetime | None, cap: int
) -> BulkResult:
    """Members who joined by `cutoff` (unknown dates count as eligible), oldest first, at most
    `cap` of them; the same input always chooses the same members."""
    skipped: dict[str, str] = {}
    eligible: list[LegacyMember] = []
    for member in members:
        if cutoff is not None and member.member_since is not None and member.member_since > cutoff:
            skipped[member.user_id] = "after_cutoff"
        else:
            eligible.append(member)
    eligible.sort(key=lambda m: (m.member_since is None, m.member_since or cutoff, m.user_id))
    for member in eligible[cap:]:
        skipped[member.user_id] = "over_cap"
    return BulkResult(granted=[m.user_id for m in eligible[:cap]], skipped=skipped)
