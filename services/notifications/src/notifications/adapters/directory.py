"""What the service learns about recipients and what mails name: groups (checkout's settings,
or the contacts set through the API), tiers' and items' names, members' addresses, and the
one-time memberships whose expiry it reminds members of."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from notifications.adapters.deferred import PENDING
from notifications.adapters.orm import catalog_entries, expiries, group_contacts, group_settings
from notifications.adapters.statements import ENTRIES_BY_KEY, GROUPS_BY_ID, MEMBER_EMAILS
from notifications.domain.groups import CatalogEntry, Group, entry_key
from notifications.domain.intents import Expiry
from tollgate_shared.contracts.checkout import CatalogEntryChanged, GroupSettingsChanged
from tollgate_shared.contracts.membership import MembershipEvent
from tollgate_shared.persistence.unit_of_work import ReadAhead, UnitOfWork


@dataclass(frozen=True)
class GroupContacts:
    """A group's contacts as set through the API (used until checkout announces its settings)."""

    group_id: str
    name: str | None
    emails: list[str]


def _contacts(row: Any) -> GroupContacts:
    return GroupContacts(row["group_id"], row["name"], list(row["emails"]))


async def group(session: AsyncSession, group_id: str) -> GroupContacts | None:
    """A group's display name and organizer addresses, if an organizer set them."""
    query = select(group_contacts).where(group_contacts.c.group_id == group_id)
    row = (await session.execute(query)).first()
    return _contacts(row._mapping) if row else None


async def set_group(
    session: AsyncSession, group_id: str, *, name: str | None, emails: list[str]
) -> GroupContacts:
    """Replace a group's contacts."""
    values = {"group_id": group_id, "name": name, "emails": emails, "updated_at": func.now()}
    stmt = insert(group_contacts).values(values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[group_contacts.c.group_id],
            set_={"name": name, "emails": emails, "updated_at": func.now()},
        )
    )
    return GroupContacts(group_id, name, emails)


def term_key(group_id: object, user_id: object) -> str:
    """The name a consumer locks a member's one-time term by before writing it
    (`UnitOfWork.lock`)."""
    return f"expiries:{group_id}/{user_id}"


class Directory:
    """Recipients and names as one unit of work sees them: groups and catalog entries read once
    per transaction (forgotten when its handlers change them), members' addresses read ahead
    for a fetch, addresses learned written before the commit."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._groups: dict[str, Group | None] = {}
        self._entries: dict[str, CatalogEntry | None] = {}
        self._emails = ReadAhead(self._member_emails)

    async def group(self, group_id: str | None) -> Group | None:
        """A group's contacts. Read once per transaction: a consumer's fetch often holds many
        events of one group (a renewal day), and one read of them is what a single statement
        for the whole fetch would have seen."""
        if group_id is None:
            return None
        await self.read_groups([group_id])
        return self._groups[group_id]

    async def read_groups(self, group_ids: Collection[str]) -> None:
        """Read the groups `group_ids` (those not read in this transaction) in one statement,
        for `group` to answer from: a fetch of a renewal day spans many groups."""
        wanted = [g for g in group_ids if g not in self._groups]
        if not wanted:
            return
        rows = await self._uow.execute(GROUPS_BY_ID, {"group_ids": wanted})
        self._groups.update(dict.fromkeys(wanted))
        self._groups.update((row["group_id"], Group.of(row)) for row in rows)

    async def apply_settings(self, event: GroupSettingsChanged) -> None:
        """Keep a group's settings as checkout announced them, unless a higher revision is
        known (a late or repeated event changes nothing)."""
        values = {
            "group_id": event.group_id,
            "revision": event.revision,
            "name": event.name,
            "contact_email": event.contact_email,
            "organizer_mail_opt_outs": list(event.organizer_mail_opt_outs),
            "sale_notice_digest": event.sale_notice_digest,
        }
        await self._keep_newest(group_settings, values)
        self._groups.pop(event.group_id, None)

    async def entries(self, keys: Collection[str]) -> dict[str, CatalogEntry | None]:
        """Tiers and items by `entry_key` (those not read in this transaction read in one
        statement; unknown ones None)."""
        wanted = sorted({k for k in keys if k not in self._entries})
        if wanted:
            kinds, ids = zip(*(k.split(":", 1) for k in wanted), strict=True)
            rows = await self._uow.execute(
                ENTRIES_BY_KEY, {"entry_kinds": list(kinds), "entry_ids": list(ids)}
            )
            self._entries.update(dict.fromkeys(wanted))
            self._entries.update(
                (
                    entry_key(row["entry_kind"], row["entry_id"]),
                    CatalogEntry(row["name"], row["amount"], row["currency"], row["interval"]),
                )
                for row in rows
            )
        return {k: self._entries[k] for k in keys}

    async def apply_entry(self, event: CatalogEntryChanged) -> None:
        """Keep a tier's or item's name and price as checkout announced them, unless a higher
        revision is known."""
        values = {
            "entry_kind": event.entry_kind,
            "entry_id": event.entry_id,
            "group_id": event.group_id,
            "revision": event.revision,
            "name": event.name,
            "amount": event.amount,
            "currency": event.currency.lower(),
            "interval": event.interval,
        }
        await self._keep_newest(catalog_entries, values)
        self._entries.pop(entry_key(event.entry_kind, event.entry_id), None)

    async def _keep_newest(self, table: Table, values: dict[str, Any]) -> None:
        """Insert `values` as a row of `table`, or replace the row of the same key with them
        unless its `revision` is as high already."""
        stmt = insert(table).values(values)
        keys = [c.name for c in table.primary_key]
        changed = {k: stmt.excluded[k] for k in values if k not in keys}
        await self._uow.session.execute(
            stmt.on_conflict_do_update(
                index_elements=keys,
                set_={**changed, "updated_at": func.now()},
                where=table.c.revision < stmt.excluded.revision,
            )
        )

    async def _member_emails(self, user_ids: list[str]) -> dict[str, tuple[str, datetime]]:
        rows = await self._uow.execute(MEMBER_EMAILS, {"user_ids": user_ids})
        return {row["user_id"]: (row["email"], row["as_of"]) for row in rows}

    async def read_member_emails(self, user_ids: Collection[str]) -> None:
        """Read the stored addresses of `user_ids` in one statement, for `member_email` to
        answer from once each: a fetch's events that carry no address each needed a read of
        their own."""
        await self._emails.read(user_ids)

    def remember_email(self, user_id: str, email: str, as_of: datetime) -> None:
        """Keep the newest address an event gave for a member (written before the commit)."""
        self._uow.deferred(PENDING).learn(user_id, email, as_of)

    async def member_email(self, user_id: str | None) -> str | None:
        """The last address learned for a member, one queued in this transaction included."""
        if user_id is None:
            return None
        stored = await self._emails.get(user_id)
        queued = self._uow.deferred(PENDING).emails.get(user_id)
        if queued is not None and (stored is None or stored[1] < queued[1]):
            return queued[0]
        return stored[0] if stored else None

    async def track_expiry(self, event: MembershipEvent, *, ended: bool) -> None:
        """Record (or end) a one-time membership's term; an older event never overwrites a
        newer."""
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
        await self._uow.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[expiries.c.group_id, expiries.c.user_id],
                set_=changed,
                where=expiries.c.as_of < stmt.excluded.as_of,
            )
        )

    async def expiring(self, *, until: datetime) -> Sequence[Expiry]:
        """Open one-time terms that run out between now and `until`."""
        rows = await self._uow.session.execute(
            select(expiries).where(
                ~expiries.c.ended,
                expiries.c.expires_at > func.now(),
                expiries.c.expires_at <= until,
            )
        )
        return [Expiry(r.group_id, r.user_id, r.tier_id, r.expires_at, r.email) for r in rows.all()]
