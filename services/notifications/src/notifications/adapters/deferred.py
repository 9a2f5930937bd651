"""Writing learned addresses and recorded notifications: at once, or queued during a
consumer's transaction and made at its end, one statement per table either way.

Under load each fetch of events is applied in one transaction, and one round trip per
learned address and per recorded notification made the transaction wait on Postgres for
most of its time. Inside `deferred(session)` those writes are queued instead, and written
together when the block ends, before the commit; `directory.member_email` sees a queued
address. Outside the block, `directory.remember_email` and `notifications_repo.record` write
at once, through the same statements.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, String, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from notifications.adapters.orm import member_emails, notifications
from tollgate_shared.db import Deferred, DriverStatement, json_param, json_rows


@dataclass
class Pending:
    """What the handlers of one transaction queued."""

    emails: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    """The newest address queued per member, with its time."""
    rows: list[dict[str, Any]] = field(default_factory=list)
    """Notification rows to record unless they exist."""

    def learn(self, user_id: str, email: str, as_of: datetime) -> None:
        """Queue a member's address; an older one than already queued is dropped."""
        known = self.emails.get(user_id)
        if known is None or known[1] <= as_of:
            self.emails[user_id] = (email, as_of)


def _learn_all() -> DriverStatement:
    given = json_rows(
        "given",
        "given",
        [("user_id", String()), ("email", String()), ("as_of", DateTime(timezone=True))],
    )
    # In key order, as the notifications below: two transactions writing the same rows lock
    # them in the same order, so they wait for each other instead of deadlocking.
    stmt = insert(member_emails).from_select(
        ["user_id", "email", "as_of"],
        select(given.c.user_id, given.c.email, given.c.as_of).order_by(given.c.user_id),
    )
    return DriverStatement.of(
        stmt.on_conflict_do_update(
            index_elements=[member_emails.c.user_id],
            set_={"email": stmt.excluded.email, "as_of": stmt.excluded.as_of},
            where=member_emails.c.as_of < stmt.excluded.as_of,
        )
    )


_RECORDED = (
    "id",
    "kind",
    "source_id",
    "recipient",
    "user_id",
    "group_id",
    "subject",
    "text_body",
    "html_body",
    "context",
    "message_id",
)
"""The columns of a recorded notification's row."""


def _record_all() -> DriverStatement:
    given = json_rows("rows", "given", [(c, notifications.c[c].type) for c in _RECORDED])
    return DriverStatement.of(
        insert(notifications)
        .from_select(
            list(_RECORDED),
            select(*[given.c[c] for c in _RECORDED]).order_by(
                given.c.kind, given.c.source_id, given.c.recipient
            ),
        )
        .on_conflict_do_nothing(constraint="uq_notifications_fact")
        .returning(notifications.c.id)
    )


# Built once, the rows bound at execution as one JSON parameter each: a statement built per
# event cost more than it, and one with a parameter per value was parsed again per fetch.
_LEARN_ALL = _learn_all()
_RECORD_ALL = _record_all()


async def learn_all(session: AsyncSession, emails: Mapping[str, tuple[str, datetime]]) -> None:
    """Keep each member's address unless a newer one is known (one address per member)."""
    given = [{"user_id": u, "email": e, "as_of": at} for u, (e, at) in emails.items()]
    await _LEARN_ALL.run(session, {"given": json_param(given)})


async def record_all(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> int:
    """Insert notification rows unless their fact exists; returns how many are new."""
    return len(await _RECORD_ALL.run(session, {"rows": json_param(rows)}))


async def flush(session: AsyncSession, queue: Pending) -> None:
    """Write the queue: one upsert of the addresses, one insert of the notifications."""
    if queue.emails:
        await learn_all(session, queue.emails)
    if queue.rows:
        await record_all(session, queue.rows)


_DEFERRED = Deferred("notifications.deferred", Pending, flush)
pending = _DEFERRED.queue
"""The queue of the `deferred` block `session` is in, if any."""
deferred = _DEFERRED.block
"""Queue the block's address and notification writes; make them when it ends without an
error."""
