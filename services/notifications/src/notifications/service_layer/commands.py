"""Commands from the HTTP API: resend a notification, set a group's contacts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from notifications.adapters import directory, notifications_repo
from notifications.adapters.directory import GroupContacts
from notifications.domain.errors import NotificationNotFound
from notifications.domain.model import normalise_address


async def resend(session: AsyncSession, notification_id: str, *, mail_domain: str) -> Row[Any]:
    """Queue a sent or failed notification again; a pending one is left as it is (so a
    retried request does not queue a second copy)."""
    async with session.begin():
        await notifications_repo.requeue(session, notification_id, mail_domain=mail_domain)
    row = await notifications_repo.get(session, notification_id)
    if row is None:
        raise NotificationNotFound(notification_id)
    return row


async def set_contacts(
    session: AsyncSession, group_id: str, *, name: str | None, emails: list[str]
) -> GroupContacts:
    """Replace the addresses that receive a group's organizer notifications."""
    addresses = sorted({normalise_address(e) for e in emails})
    async with session.begin():
        return await directory.set_group(session, group_id, name=name, emails=addresses)
