"""Group contacts and members' addresses read ahead for a fetch, in one statement each, answer
`group` and `member_email` in its transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from notifications.adapters import directory
from notifications.adapters.orm import group_contacts, member_emails
from notifications.domain.groups import Group
from notifications.main import MIGRATIONS
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork as Unit
from tollgate_shared.persistence.db import transaction
from tollgate_shared.testing import sessions_on, unique


async def test_groups_read_ahead_answer_group_within_the_transaction(
    migrated_database: Callable[[Path], str],
) -> None:
    async with sessions_on(migrated_database(MIGRATIONS)) as sessions:
        known, other, unknown = unique("g"), unique("g"), unique("g")
        async with transaction(sessions) as session:
            await directory.set_group(session, known, name="Knitters", emails=["o@example.com"])
            await directory.set_group(session, other, name="Potters", emails=[])

        async with Unit(sessions) as uow:
            await uow.directory.read_groups({known, other, unknown})
            # Changed behind `group`'s back: it answers from what was read ahead.
            await uow.session.execute(
                update(group_contacts).where(group_contacts.c.group_id == known).values(name="x")
            )
            found = await uow.directory.group(known)
            assert found == Group(known, "Knitters", ["o@example.com"])
            assert await uow.directory.group(unknown) is None
            assert (await uow.directory.group(other)) == Group(other, "Potters", [])
            await uow.commit()
        async with Unit(sessions) as uow:  # a new unit of work reads anew
            await uow.directory.read_groups([known])
            again = await uow.directory.group(known)
            assert again is not None and again.name == "x"


async def test_addresses_read_ahead_answer_member_email_once_and_a_newer_queued_one_wins(
    migrated_database: Callable[[Path], str],
) -> None:
    async with sessions_on(migrated_database(MIGRATIONS)) as sessions:
        ada, bob, nobody = unique("usr"), unique("usr"), unique("usr")
        then = datetime(2026, 12, 1, tzinfo=UTC)
        async with Unit(sessions) as uow:
            uow.directory.remember_email(ada, "ada@example.com", then)
            uow.directory.remember_email(bob, "bob@example.com", then)
            await uow.commit()

        async with Unit(sessions) as uow:
            await uow.directory.read_member_emails({ada, bob, nobody})
            # Changed behind `member_email`'s back: it answers once from what was read ahead,
            # then from the database.
            await uow.session.execute(
                update(member_emails)
                .where(member_emails.c.user_id == ada)
                .values(email="ada@changed.example")
            )
            assert await uow.directory.member_email(ada) == "ada@example.com"
            assert await uow.directory.member_email(ada) == "ada@changed.example"
            assert await uow.directory.member_email(nobody) is None
            # A newer address queued in this transaction wins over the stored one; a queued
            # one is the answer where none is stored, however old.
            later, earlier = then + timedelta(days=1), then - timedelta(days=1)
            uow.directory.remember_email(bob, "bob@new.example", later)
            uow.directory.remember_email(nobody, "nobody@example.com", earlier)
            assert await uow.directory.member_email(bob) == "bob@new.example"
            assert await uow.directory.member_email(nobody) == "nobody@example.com"
            await uow.commit()

        async with Unit(sessions) as uow:  # the queued addresses were written
            assert await uow.directory.member_email(bob) == "bob@new.example"
            assert await uow.directory.member_email(nobody) == "nobody@example.com"
