"""Checkout's unit of work: one transaction, with the repositories its handlers use."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from checkout.adapters.catalog_repo import Catalog
from checkout.adapters.coupons_repo import Coupons
from checkout.adapters.groups_repo import Groups
from checkout.adapters.seats import SEATS_HELD
from checkout.adapters.sessions_repo import CheckoutSessions
from tollgate_shared.messaging.outbox import Outbox
from tollgate_shared.persistence.unit_of_work import UnitOfWork


class CheckoutUnitOfWork(UnitOfWork):
    """The catalog, coupons, checkout sessions and group settings of one transaction."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, outbox: Outbox | None = None
    ) -> None:
        super().__init__(sessions, outbox=outbox)
        self.holds_changed: set[str] = set()
        """Tiers with a capacity whose seat holds this transaction changed."""
        self.catalog = Catalog(self)
        self.coupons = Coupons(self)
        self.checkouts = CheckoutSessions(self, self.holds_changed)
        self.groups = Groups(self)

    async def commit(self) -> None:
        """Commit, announcing the seats held on the tiers whose holds changed: once, after
        everything else is written (not at each savepoint, so a fetch takes the tiers' locks
        together, in order). A savepoint rolled back may leave its tiers to announce: the
        count is taken anew, so it only costs a revision."""
        if self.holds_changed:
            self.deferred(SEATS_HELD).update(self.holds_changed)
        await super().commit()
