"""What the service learns about recipients: organizers' addresses, members' addresses, and
the one-time memberships whose expiry it reminds members of."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from notifications.adapters.deferred import learn_all, pending
from notifications.adapters.orm import expiries, group_contacts, member_emails
from notifications.domain.intents import Expiry
from tollgate_shared.db import DriverStatement, ReadAhead
from tollgate_shared.events.membership import MembershipEvent


@dataclass(frozen=True)
class GroupContacts:
    group_id: str
    name: str | None
    emails: list[str]


_GROUPS = "notifications.groups"


async def group(session: AsyncSession, group_id: str | None) -> GroupContacts | None:
    """A group's display name and organizer addresses, if an organizer set them. Read once
    per transaction: a consumer's fetch often holds many events of one group (a renewal day),
    and one read of them is what a single statement for the whole fetch would have seen."""
    if group_id is None:
        return None
    await read_groups(session, [group_id])
    known: dict[str, GroupContacts | None] = session.info[_GROUPS]
    return known[group_id]


def _contacts(row: dict[str, Any]) -> GroupContacts:
    return GroupContacts(row["group_id"], row["name"], list(row["emails"]))


_GROUPS_BY_ID = DriverStatement.of(
    select(group_contacts).where(
        group_contacts.c.group_id == any_(bindparam("group_ids", type_=ARRAY(String)))
    )
)


async def read_groups(session: AsyncSession, group_ids: Collection[str]) -> None:
    """Read the groups `group_ids` (those `group` has not read in this transaction) in one
    statement, for `group` to answer from: a fetch of a renewal day spans many groups."""
    known: dict[str, GroupContacts | None] = session.info.setdefault(_GROUPS, {})
    wanted = [g for g in group_ids if g not in known]
    if not wanted:
        return
    rows = await _GROUPS_BY_ID.run(session, {"group_ids": wanted})
    known.update(dict.fromkeys(wanted))
    known.update((row["group_id"], _contacts(row)) for row in rows)


async def set_group(
    session: AsyncSession, group_id: str, *, name: str | None, emails: list[str]
) -> GroupContacts:
    """Replace a group's contacts."""
    session.info.get(_GROUPS, {}).pop(group_id, None)
    values = {"group_id": group_id, "name": name, "emails": emails, "updated_at": func.now()}
    stmt = insert(group_contacts).values(values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[group_contacts.c.group_id],
            set_={"name": name, "emails": emails, "updated_at": func.now()},
        )
    )
    return GroupContacts(group_id, name, emails)


_MEMBER_EMAILS = DriverStatement.of(
    select(member_emails).where(
        member_emails.c.user_id == any_(bindparam("user_ids", type_=ARRAY(String)))
    )
)


async def _member_emails(
    session: AsyncSession, user_ids: list[str]
) -> dict[str, tuple[str, datetime]]:
    rows = await _MEMBER_EMAILS.run(session, {"user_ids": user_ids})
    return {row["user_id"]: (row["email"], row["as_of"]) for row in rows}


_EMAILS = ReadAhead("notifications.member_emails", _member_emails)


async def read_member_emails(session: AsyncSession, user_ids: Collection[str]) -> None:
    """Read the stored addresses of `user_ids` in one statement, for `member_email` to answer
    from once each: a fetch's events that carry no address each needed a read of their own."""
    await _EMAILS.read(session, user_ids)


async def remember_email(session: AsyncSession, user_id: str, email: str, as_of: datetime) -> None:
    """Keep the newest address an event gave for a member (queued in a `deferred` block)."""
    queue = pending(session)
    if queue is not None:
        queue.learn(user_id, email, as_of)
        return
    await learn_all(session, {user_id: (email, as_of)})


async def member_email(session: AsyncSession, user_id: str | None) -> str | None:
    """The last address learned for a member, one queued in this transaction included."""
    if user_id is None:
        return None
    stored = await _EMAILS.get(session, user_id)
    queue = pending(session)
    queued = queue.emails.get(user_id) if queue is not None else None
    if queued is not None and (stored is None or stored[1] < queued[1]):
        return queued[0]
    return stored[0] if stored else None


def term_key(group_id: object, user_id: object) -> str:
    """The name a consumer locks a member's one-time term by before writing it (see
    `tollgate_shared.db.lock_in_order`)."""
    return f"expiries:{group_id}/{user_id}"


async def track_expiry(session: AsyncSession, event: MembershipEvent, *, ended: bool) -> None:
    """Record (or end) a one-time membership's term; an older event never overwrites a newer."""
    if event.expires_at is None and not ended:
        return
    values = {
        "group_id": event.group_id,
        "user_id": event.user_id,
        "tier_id": event.tier_id,
        "expires_at": event.expires_at or event.occurred_at,
        "email": event.email,
        "ended": ended,
        "as_of": event.occurred_at,
    }
    stmt = insert(expiries).values(values)
    changed: dict[str, Any] = {
        k: stmt.excluded[k] for k in ("tier_id", "expires_at", "ended", "as_of")
    }
    changed["email"] = func.coalesce(stmt.excluded.email, expiries.c.email)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[expiries.c.group_id, expiries.c.user_id],
            set_=changed,
            where=expiries.c.as_of < stmt.excluded.as_of,
        )
    )


async def expiring(session: AsyncSession, *, until: datetime) -> Sequence[Expiry]:
    """Open one-time terms that run out between now and `until`."""
    rows = await session.execute(
        select(expiries).where(
            ~expiries.c.ended,
            expiries.c.expires_at > func.now(),
            expiries.c.expires_at <= until,
        )
    )
    return [Expiry(r.group_id, r.user_id, r.tier_id, r.expires_at, r.email) for r in rows.all()]
