"""Group contacts read ahead for a fetch, in one statement, answer `group` in its transaction."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import update

from notifications.adapters import directory
from notifications.adapters.orm import group_contacts
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
