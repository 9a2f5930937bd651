"""Group contacts and members' addresses read ahead for a fetch, in one statement each, answer
`group` and `member_email` in its transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from notifications.adapters import directory
from notifications.adapters.deferred import deferred
from notifications.adapters.orm import group_contacts, member_emails
from notifications.main import MIGRATIONS
from tollgate_shared.db import transaction
from tollgate_shared.testing import sessions_on, unique


async def test_groups_read_ahead_answer_group_within_the_transaction(
    migrated_database: Callable[[Path], str],
) -> None:
    async with sessions_on(migrated_database(MIGRATIONS)) as sessions:
        known, other, unknown = unique("g"), unique("g"), unique("g")
        async with transaction(sessions) as session:
            await directory.set_group(session, known, name="Knitters", emails=["o@example.com"])
            await directory.set_group(session, other, name="Potters", emails=[])

        async with transaction(sessions) as session:
            await directory.read_groups(session, {known, other, unknown})
            # Changed behind `group`'s back: it answers from what was read ahead.
            await session.execute(
                update(group_contacts).where(group_contacts.c.group_id == known).values(name="x")
            )
            found = await directory.group(session, known)
            assert found == directory.GroupContacts(known, "Knitters", ["o@example.com"])
            assert await directory.group(session, unknown) is None
            assert (await directory.group(session, other)) == directory.GroupContacts(
                other, "Potters", []
            )
            # Set through the directory: read again.
            await directory.set_group(session, known, name="Weavers", emails=[])
            assert (await directory.group(session, known)) == directory.GroupContacts(
                known, "Weavers", []
            )
        async with transaction(sessions) as session:  # a new transaction reads anew
            await directory.read_groups(session, [known])
            again = await directory.group(session, known)
            assert again is not None and again.name == "Weavers"


async def test_addresses_read_ahead_answer_member_email_once_and_a_newer_queued_one_wins(
    migrated_database: Callable[[Path], str],
) -> None:
    async with sessions_on(migrated_database(MIGRATIONS)) as sessions:
        ada, bob, nobody = unique("usr"), unique("usr"), unique("usr")
        then = datetime(2026, 12, 1, tzinfo=UTC)
        async with transaction(sessions) as session:
            await directory.remember_email(session, ada, "ada@example.com", then)
            await directory.remember_email(session, bob, "bob@example.com", then)

        async with transaction(sessions) as session, deferred(session):
            await directory.read_member_emails(session, {ada, bob, nobody})
            # Changed behind `member_email`'s back: it answers once from what was read ahead,
            # then from the database.
            await session.execute(
                update(member_emails)
                .where(member_emails.c.user_id == ada)
                .values(email="ada@changed.example")
            )
            assert await directory.member_email(session, ada) == "ada@example.com"
            assert await directory.member_email(session, ada) == "ada@changed.example"
            assert await directory.member_email(session, nobody) is None
            # A newer address queued in this transaction wins over the stored one; a queued
            # one is the answer where none is stored, however old.
            later, earlier = then + timedelta(days=1), then - timedelta(days=1)
            await directory.remember_email(session, bob, "bob@new.example", later)
            await directory.remember_email(session, nobody, "nobody@example.com", earlier)
            assert await directory.member_email(session, bob) == "bob@new.example"
            assert await directory.member_email(session, nobody) == "nobody@example.com"

        async with transaction(sessions) as session:  # the queued addresses were written
            assert await directory.member_email(session, bob) == "bob@new.example"
            assert await directory.member_email(session, nobody) == "nobody@example.com"
