"""Membership's unit of work: one transaction, with the repositories its handlers use."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from membership.adapters.credits_repo import Credits
from membership.adapters.groups_repo import Groups
from membership.adapters.repository import Memberships
from tollgate_shared.messaging.outbox import Outbox
from tollgate_shared.persistence.unit_of_work import UnitOfWork


class MembershipUnitOfWork(UnitOfWork):
    """The memberships, credits and groups' announced policies of one transaction."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, outbox: Outbox | None = None
    ) -> None:
        super().__init__(sessions, outbox=outbox)
        self.memberships = Memberships(self)
        self.credits = Credits(self)
        self.groups = Groups(self)
