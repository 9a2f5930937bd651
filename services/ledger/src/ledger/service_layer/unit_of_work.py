"""The ledger's unit of work: one transaction, with the repositories its handlers use."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ledger.adapters.failures import AbstractFailures, Failures
from ledger.adapters.groups import AbstractGroups, Groups
from ledger.adapters.parts import AbstractParts, Parts
from ledger.adapters.payout_requests import AbstractPayoutRequests, PayoutRequests
from ledger.adapters.repository import AbstractBooks, Books
from tollgate_shared.messaging.outbox import Outbox
from tollgate_shared.persistence.unit_of_work import UnitOfWork


class LedgerUnitOfWork(UnitOfWork):
    """The books, the pending parts of payments, the payout requests, the failed payments and
    the groups' settings of one transaction."""

    books: AbstractBooks
    parts: AbstractParts
    payouts: AbstractPayoutRequests
    failures: AbstractFailures
    groups: AbstractGroups

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, outbox: Outbox | None = None
    ) -> None:
        super().__init__(sessions, outbox=outbox)
        self.books = Books(self)
        self.parts = Parts(self)
        self.payouts = PayoutRequests(self)
        self.failures = Failures(self)
        self.groups = Groups(self)
