"""Reading and writing notification rows; every state change is guarded by the row's state."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Row,
    String,
    Text,
    and_,
    any_,
    bindparam,
    case,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from notifications.adapters.deferred import PENDING
from notifications.adapters.orm import awaiting_address, member_emails, stripe_details
from notifications.adapters.orm import notifications as t
from notifications.adapters.statements import SETTLE_MANY
from notifications.domain.delivery import LAPSED_ON_LAST_ATTEMPT
from notifications.domain.model import Intent, Kind, Rendered, Status, message_id
from tollgate_shared.persistence.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Held:
    """A sale notice held for its group's digest: its rows (one per recipient), the context it
    was recorded with, and when it was recorded."""

    group_id: str
    kind: str
    context: dict[str, Any]
    at: datetime
    ids: list[str]


@dataclass(frozen=True, eq=False)
class Attempt:
    """A claimed notification's attempt and its outcome, to be recorded."""

    row: Row[Any]
    status: Status
    retry_in: float | None = None
    reason: str | None = None
    rendered: Rendered | None = None
    """Its subject and bodies, when the attempt rendered them (the row had none)."""


async def requeue(session: AsyncSession, notification_id: str, *, mail_domain: str) -> bool:
    """Queue a sent or failed notification again, as a new copy with its own Message-ID."""
    row = (
        await session.execute(select(t).where(t.c.id == notification_id).with_for_update())
    ).first()
    if row is None or row.status not in (Status.SENT, Status.FAILED):
        return False
    resend = row.resends + 1
    await session.execute(
        update(t)
        .where(t.c.id == notification_id)
        .values(
            status=Status.PENDING,
            attempts=0,
            resends=resend,
            next_attempt_at=func.now(),
            lease_until=None,
            last_error=None,
            updated_at=func.now(),
            message_id=message_id(
                row.kind, row.source_id, row.recipient, domain=mail_domain, resend=resend
            ),
        )
    )
    return True


async def get(session: AsyncSession, notification_id: str) -> Row[Any] | None:
    """One notification by id."""
    return (await session.execute(select(t).where(t.c.id == notification_id))).first()


@dataclass(frozen=True)
class Filters:
    user_id: str | None = None
    group_id: str | None = None
    recipient: str | None = None
    kind: str | None = None
    status: str | None = None
    source_id: str | None = None


async def search(
    session: AsyncSession, filters: Filters, *, before: int | None, limit: int
) -> Sequence[Row[Any]]:
    """Newest first; `before` is the `seq` cursor of the last row of the previous page."""
    query = select(t).order_by(t.c.seq.desc()).limit(limit)
    for name, value in vars(filters).items():
        if value is not None:
            query = query.where(t.c[name] == value)
    if before is not None:
        query = query.where(t.c.seq < before)
    return (await session.execute(query)).all()


class Notifications:
    """Notification rows as one unit of work records, leases and settles them."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    @property
    def _session(self) -> AsyncSession:
        return self._uow.session

    def record(
        self,
        intent: Intent,
        recipients: Sequence[str],
        rendered: Rendered | None,
        *,
        context: dict[str, Any],
        mail_domain: str,
        status: Status = Status.PENDING,
    ) -> int:
        """Record one notification per recipient unless it exists (written before the commit);
        returns how many were queued. Without `rendered` (its rendering failed), the sender
        renders it from `context` at each attempt. `Status.DIGEST`: held for its group's
        digest, not sent alone."""
        rows = [
            {
                "id": uuid.uuid4().hex,
                "kind": intent.kind.value,
                "source_id": intent.source_id,
                "recipient": recipient,
                "user_id": intent.user_id,
                "group_id": intent.group_id,
                "subject": rendered.subject if rendered else None,
                "text_body": rendered.text if rendered else None,
                "html_body": rendered.html if rendered else None,
                "context": context,
                "message_id": message_id(
                    intent.kind, intent.source_id, recipient, domain=mail_domain
                ),
                "stale_after": intent.stale_after,
                "status": status.value,
            }
            for recipient in recipients
        ]
        self._uow.deferred(PENDING).rows.extend(rows)
        return len(rows)

    def wait(self, intent: Intent) -> None:
        """Keep a member notification until the details of its `details_keys` (if any), then
        its member's address, are known (written before the commit; once per fact)."""
        self._uow.deferred(PENDING).waiting.append(
            {
                "kind": intent.kind.value,
                "source_id": intent.source_id,
                "user_id": intent.user_id,
                "group_id": intent.group_id,
                "context": dict(intent.context),
                "details_keys": list(intent.details_keys) or None,
                "email": intent.email,
            }
        )

    async def told(self, kind: Kind, source_id: str) -> dict[str, Any] | None:
        """The context a notification of `kind` about `source_id` was recorded with (to any
        recipient), or None."""
        query = select(t.c.context).where(t.c.kind == kind.value, t.c.source_id == source_id)
        context: dict[str, Any] | None = (await self._session.execute(query.limit(1))).scalar()
        return context

    async def held(self, *, before: datetime) -> list[Held]:
        """The sale notices held for their groups' digests, recorded before `before`, in the
        order they were recorded (the digest job's runs take turns: nothing else changes
        them)."""
        ids = func.array_agg(aggregate_order_by(t.c.id, t.c.id))
        query = (
            select(
                t.c.group_id,
                t.c.kind,
                func.min(t.c.created_at).label("at"),
                (func.array_agg(t.c.context))[1].label("context"),
                ids.label("ids"),
            )
            .where(t.c.status == Status.DIGEST, t.c.created_at < before, t.c.group_id.is_not(None))
            .group_by(t.c.group_id, t.c.kind, t.c.source_id)
            .order_by("at", t.c.kind, t.c.source_id)
        )
        rows = (await self._session.execute(query)).all()
        return [Held(r.group_id, r.kind, r.context, r.at, list(r.ids)) for r in rows]

    async def digested(self, ids: Sequence[str]) -> None:
        """Mark held sale notices as listed in their group's digest."""
        await self._session.execute(
            update(t)
            .where(t.c.id == any_(bindparam("digested_ids", list(ids), type_=ARRAY(String))))
            .values(status=Status.DIGESTED, updated_at=func.now())
        )

    async def recorded(self, kind: Kind, source_ids: Sequence[str]) -> set[str]:
        """Which of `source_ids` a notification of `kind` is recorded about."""
        if not source_ids:
            return set()
        query = select(t.c.source_id).where(
            t.c.kind == kind.value,
            t.c.source_id == any_(bindparam("recorded_ids", list(source_ids), type_=ARRAY(String))),
        )
        return set((await self._session.execute(query)).scalars())

    async def take_ready(self, *, kept_since: datetime, details_since: datetime) -> list[Intent]:
        """Take the waiting notifications that can go on: those waiting for details once some
        are known or they waited since before `details_since` (completed with what is known;
        addressed as their event was, else to the member's address if known), and those
        waiting for an address once it is known (addressed to it). Forget those kept since
        before `kept_since` with no address."""
        w, m, d = awaiting_address, member_emails, stripe_details
        learned = select(m.c.email).where(m.c.user_id == w.c.user_id).scalar_subquery()
        email = func.coalesce(w.c.email, learned).label("email")
        addressed = exists().where(m.c.user_id == w.c.user_id)
        of_keys = d.c.key == any_(w.c.details_keys)
        position = func.array_position(w.c.details_keys, d.c.key)
        found = (
            select(func.jsonb_agg(aggregate_order_by(d.c.details, position)))
            .where(of_keys)
            .scalar_subquery()
            .label("found")
        )
        waits_address = w.c.details_keys.is_(None)
        ready = or_(
            and_(waits_address, or_(addressed, w.c.created_at < kept_since)),
            and_(~waits_address, or_(exists().where(of_keys), w.c.created_at < details_since)),
        )
        rows = await self._session.execute(
            delete(w)
            .where(ready)
            .returning(
                w.c.kind,
                w.c.source_id,
                w.c.user_id,
                w.c.group_id,
                w.c.context,
                w.c.details_keys,
                email,
                found,
            )
        )
        return [
            Intent(
                Kind(r.kind), r.source_id, r.user_id, r.group_id, r.context, email=r.email
            ).completed(r.found or [])
            for r in rows
            if r.email is not None or r.details_keys is not None
        ]

    async def claim_due(
        self,
        *,
        limit: int,
        lease: float,
        max_attempts: int,
        take_over: bool = True,
    ) -> Sequence[Row[Any]]:
        """Lease up to `limit` due notifications (pending and due, or, with `take_over`, sending
        with a lapsed lease). One whose lease lapsed on its last allowed attempt is not leased
        again but failed (status `failed`, the reason in `last_error`), and one whose
        `stale_after` has passed is not leased but `superseded`; both returned as such."""
        now = func.now()
        due_now = (t.c.status == Status.PENDING) & (t.c.next_attempt_at <= now)
        lapsed = (t.c.status == Status.SENDING) & (t.c.lease_until < now)
        due = (
            select(t.c.id)
            .where(or_(due_now, lapsed) if take_over else due_now)
            .order_by(t.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        exhausted = (t.c.status == Status.SENDING) & (t.c.attempts >= max_attempts)
        stale = t.c.stale_after <= now
        not_leased = or_(exhausted, stale)
        result = await self._session.execute(
            update(t)
            .where(t.c.id.in_(due))
            .values(
                status=case(
                    (exhausted, Status.FAILED), (stale, Status.SUPERSEDED), else_=Status.SENDING
                ),
                attempts=case((not_leased, t.c.attempts), else_=t.c.attempts + 1),
                lease_until=case((not_leased, None), else_=now + timedelta(seconds=lease)),
                last_error=case(
                    (exhausted, literal(LAPSED_ON_LAST_ATTEMPT, Text)), else_=t.c.last_error
                ),
                updated_at=now,
            )
            .returning(t)
        )
        leased: Sequence[Row[Any]] = result.all()
        return leased

    def supersede(self, kind: Kind, source_ids: Sequence[str]) -> None:
        """Make the notifications of `kind` about `source_ids` not sent yet stale now (those
        queued in this transaction at once, those written before when it commits): a sender
        marks them `superseded` when they are next due instead of sending them. One being sent
        meanwhile goes out, or, if its attempt fails, is superseded then."""
        ids = set(source_ids)
        now = datetime.now(UTC)
        pending = self._uow.deferred(PENDING)
        for row in pending.rows:
            if row["kind"] == kind and row["source_id"] in ids:
                row["stale_after"] = now
        pending.stale.setdefault(kind.value, set()).update(ids)

    async def settle_many(self, attempts: Sequence[Attempt]) -> set[str]:
        """Record attempts' outcomes in one statement, each unless another sender has taken its
        row over since (a lapsed lease claimed again); returns the ids recorded."""
        rows = await self._uow.execute(
            SETTLE_MANY,
            {
                "outcome_ids": [a.row.id for a in attempts],
                "outcome_attempts": [a.row.attempts for a in attempts],
                "outcome_statuses": [a.status.value for a in attempts],
                "outcome_reasons": [a.reason for a in attempts],
                "outcome_retry_ins": [a.retry_in for a in attempts],
            },
        )
        return {row["id"] for row in rows}

    async def store_rendered(self, rendered: Mapping[str, Rendered]) -> None:
        """Keep the subjects and bodies rendered by attempts (by notification id) of
        notifications recorded unrendered."""
        if not rendered:
            return
        await self._session.execute(
            update(t)
            .where(t.c.id == bindparam("row_id"))
            .values(
                subject=bindparam("new_subject"),
                text_body=bindparam("new_text"),
                html_body=bindparam("new_html"),
            ),
            [
                {"row_id": i, "new_subject": r.subject, "new_text": r.text, "new_html": r.html}
                for i, r in rendered.items()
            ],
        )
