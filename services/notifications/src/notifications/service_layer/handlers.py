"""One handler per consumed event: learn what it tells about recipients, record intents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from notifications.domain import intents
from notifications.domain.links import Links
from notifications.service_layer.notifier import Notifier
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork
from tollgate_shared.contracts.base import DomainEvent
from tollgate_shared.contracts.checkout import PurchaseEvent, PurchasePaid
from tollgate_shared.contracts.ledger import (
    DisputeClosed,
    DisputeOpened,
    PaymentRecorded,
    RefundRecorded,
)
from tollgate_shared.contracts.membership import (
    MembershipActivated,
    MembershipEnded,
    MembershipEvent,
    MembershipPastDue,
    MembershipRenewed,
    MembershipTierChanged,
)
from tollgate_shared.contracts.stripe import StripeEvent
from tollgate_shared.contracts.stripe_objects import Invoice
from tollgate_shared.messaging.foreign import ignore_foreign


def _learn_email(uow: NotificationsUnitOfWork, event: DomainEvent) -> None:
    user_id: Any = getattr(event, "user_id", None)
    email: Any = getattr(event, "email", None)
    if user_id and email:
        uow.directory.remember_email(user_id, email, event.occurred_at)


async def _learn_membership(
    uow: NotificationsUnitOfWork, event: MembershipEvent, *, ended: bool = False
) -> None:
    _learn_email(uow, event)
    if event.source == "one_time":
        await uow.directory.track_expiry(event, ended=ended)


@dataclass(frozen=True)
class Handlers:
    """Its `on_<event>` methods are the handlers `entrypoints/consumers` maps."""

    notifier: Notifier
    links: Links

    async def on_membership_activated(
        self, uow: NotificationsUnitOfWork, event: MembershipActivated
    ) -> None:
        await _learn_membership(uow, event)
        await self.notifier.notify(uow, intents.new_member(event, self.links))

    async def on_membership_renewed(
        self, uow: NotificationsUnitOfWork, event: MembershipRenewed
    ) -> None:
        await _learn_membership(uow, event)
        await self.notifier.notify(uow, intents.renewal_notice(event, self.links))

    async def on_membership_tier_changed(
        self, uow: NotificationsUnitOfWork, event: MembershipTierChanged
    ) -> None:
        await _learn_membership(uow, event)

    async def on_membership_past_due(
        self, uow: NotificationsUnitOfWork, event: MembershipPastDue
    ) -> None:
        _learn_email(uow, event)
        await self.notifier.notify(uow, intents.access_at_risk(event, self.links))

    async def on_membership_ended(
        self, uow: NotificationsUnitOfWork, event: MembershipEnded
    ) -> None:
        await _learn_membership(uow, event, ended=True)
        await self.notifier.notify(uow, intents.membership_ended(event, self.links))

    async def on_payment_recorded(
        self, uow: NotificationsUnitOfWork, event: PaymentRecorded
    ) -> None:
        _learn_email(uow, event)
        await self.notifier.notify(uow, intents.payment_receipt(event, self.links))

    async def on_refund_recorded(self, uow: NotificationsUnitOfWork, event: RefundRecorded) -> None:
        _learn_email(uow, event)
        await self.notifier.notify(uow, intents.refund_confirmation(event, self.links))

    async def on_dispute_opened(self, uow: NotificationsUnitOfWork, event: DisputeOpened) -> None:
        await self.notifier.notify(uow, intents.dispute_alert(event, self.links))

    async def on_dispute_closed(self, uow: NotificationsUnitOfWork, event: DisputeClosed) -> None:
        await self.notifier.notify(uow, intents.dispute_outcome(event, self.links))

    async def on_purchase_event(self, uow: NotificationsUnitOfWork, event: PurchaseEvent) -> None:
        _learn_email(uow, event)

    async def on_purchase_paid(self, uow: NotificationsUnitOfWork, event: PurchasePaid) -> None:
        _learn_email(uow, event)
        await self.notifier.notify(uow, intents.sale_notice(event, self.links))

    async def on_payment_intent_failed(
        self, uow: NotificationsUnitOfWork, event: StripeEvent
    ) -> None:
        """Only an intent whose own metadata names a group is ours: a subscription invoice's
        carries none (its `invoice.payment_failed` mails), nor does another app's."""
        intent = intents.purchase_failed(event.object_as(intents.ChargedIntent), self.links)
        if intent.group_id is not None:
            await self.notifier.notify(uow, intent)

    async def on_invoice_payment_failed(
        self, uow: NotificationsUnitOfWork, event: StripeEvent
    ) -> None:
        invoice = event.object_as(Invoice)
        intent = intents.payment_failed(invoice, self.links)
        if intent.group_id is None:  # another app's invoice on a shared Stripe account
            ignore_foreign("notifications", event, f"invoice {invoice.id} names no group")
            return
        await self.notifier.notify(uow, intent)
