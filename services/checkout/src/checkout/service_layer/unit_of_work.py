"""Checkout's unit of work: one transaction, with the repositories its handlers use."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from checkout.adapters.catalog_repo import Catalog
from checkout.adapters.coupons_repo import Coupons
from checkout.adapters.groups_repo import Groups
from checkout.adapters.sessions_repo import CheckoutSessions
from tollgate_shared.messaging.outbox import Outbox
from tollgate_shared.persistence.unit_of_work import UnitOfWork


class CheckoutUnitOfWork(UnitOfWork):
    """The catalog, coupons, checkout sessions and group settings of one transaction."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, outbox: Outbox | None = None
    ) -> None:
        super().__init__(sessions, outbox=outbox)
        self.catalog = Catalog(self)
        self.coupons = Coupons(self)
        self.checkouts = CheckoutSessions(self)
        self.groups = Groups(self)
