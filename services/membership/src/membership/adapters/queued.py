"""What a unit of work saves of members' subscriptions and memberships, queued and written in
one statement of each before it commits: a member whose events share a fetch is written once.
Until then the unit's reads answer them as saved (`Memberships`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from membership.adapters import orm
from membership.adapters.statements import MEMBER_KEY, save_rows
from membership.domain.model import Announced, MembershipKey, SubscriptionRecord
from tollgate_shared.persistence.db import json_param
from tollgate_shared.persistence.unit_of_work import Deferred, UnitOfWork

SAVE_SUBSCRIPTIONS = save_rows(orm.subscriptions, ("id",))
SAVE_MEMBERSHIPS = save_rows(orm.memberships, MEMBER_KEY)


@dataclasses.dataclass(frozen=True)
class Announcing:
    """A membership saved and not written yet: as announced, and its row."""

    announced: Announced
    email: str | None
    row: dict[str, Any]


async def _write_subscriptions(uow: UnitOfWork, queued: dict[str, SubscriptionRecord]) -> None:
    rows = [dataclasses.asdict(record) for record in queued.values()]
    queued.clear()
    if rows:
        await uow.execute(SAVE_SUBSCRIPTIONS, {"rows": json_param(rows)})


async def _write_memberships(uow: UnitOfWork, queued: dict[MembershipKey, Announcing]) -> None:
    rows = [q.row for q in queued.values()]
    queued.clear()
    if rows:
        await uow.execute(SAVE_MEMBERSHIPS, {"rows": json_param(rows)})


SUBSCRIPTIONS = Deferred(dict[str, SubscriptionRecord], _write_subscriptions)
"""Subscriptions saved and not written yet, by id, each as last saved."""
MEMBERSHIPS = Deferred(dict[MembershipKey, Announcing], _write_memberships)
"""Memberships saved and not written yet, each as last saved."""


def overlaid(
    stored: Iterable[SubscriptionRecord], queued: Iterable[SubscriptionRecord]
) -> list[SubscriptionRecord]:
    """Subscriptions as read, each replaced by its queued save, with queued ones not read."""
    found = {s.id: s for s in stored}
    found.update((s.id, s) for s in queued)
    return list(found.values())


def related(candidate: SubscriptionRecord, record: SubscriptionRecord) -> bool:
    """Whether `candidate` may replace `record` or be replaced by it: the member's own in its
    group, or one of the user's that it names as replaced or that names it (as
    `statements.save_reading` reads them)."""
    return candidate.user_id == record.user_id and (
        candidate.group_id == record.group_id
        or candidate.id == record.previous_subscription_id
        or candidate.previous_subscription_id == record.id
    )
