"""Notifications' unit of work: one transaction, with the repositories its handlers use."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notifications.adapters.directory import Directory
from notifications.adapters.notifications_repo import Notifications
from notifications.adapters.stripe_details import StripeDetails
from tollgate_shared.messaging.outbox import Outbox
from tollgate_shared.persistence.unit_of_work import UnitOfWork


class NotificationsUnitOfWork(UnitOfWork):
    """The recipients directory, the notification rows and what Stripe's events told, in one
    transaction."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, outbox: Outbox | None = None
    ) -> None:
        super().__init__(sessions, outbox=outbox)
        self.directory = Directory(self)
        self.notifications = Notifications(self)
        self.details = StripeDetails(self)
