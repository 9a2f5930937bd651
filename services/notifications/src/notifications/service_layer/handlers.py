"""One handler per consumed event: learn what it tells about recipients, record intents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from notifications.adapters import directory
from notifications.domain import intents
from notifications.domain.links import Links
from notifications.service_layer.notifier import Notifier
from tollgate_shared.events.base import DomainEvent
from tollgate_shared.events.ledger import DisputeOpened, PaymentRecorded, RefundRecorded
from tollgate_shared.events.membership import (
    MembershipActivated,
    MembershipEnded,
    MembershipEvent,
    MembershipPastDue,
    MembershipRenewed,
    MembershipTierChanged,
)
from tollgate_shared.events.stripe import Invoice, StripeEvent
from tollgate_shared.messaging.dispatch import EventHandler
from tollgate_shared.messaging.foreign import ignore_foreign


async def _learn_email(session: AsyncSession, event: DomainEvent) -> None:
    user_id: Any = getattr(event, "user_id", None)
    email: Any = getattr(event, "email", None)
    if user_id and email:
        await directory.remember_email(session, user_id, email, event.occurred_at)


async def _learn_membership(
    session: AsyncSession, event: MembershipEvent, *, ended: bool = False
) -> None:
    await _learn_email(session, event)
    if event.source == "one_time":
        await directory.track_expiry(session, event, ended=ended)


@dataclass(frozen=True)
class Handlers:
    notifier: Notifier
    links: Links

    async def membership_activated(self, session: AsyncSession, event: MembershipActivated) -> None:
        await _learn_membership(session, event)
        await self.notifier.notify(session, intents.new_member(event, self.links))

    async def membership_renewed(self, session: AsyncSession, event: MembershipRenewed) -> None:
        await _learn_membership(session, event)
        await self.notifier.notify(session, intents.renewal_notice(event, self.links))

    async def membership_tier_changed(
        self, session: AsyncSession, event: MembershipTierChanged
    ) -> None:
        await _learn_membership(session, event)

    async def membership_past_due(self, session: AsyncSession, event: MembershipPastDue) -> None:
        await _learn_email(session, event)
        await self.notifier.notify(session, intents.access_at_risk(event, self.links))

    async def membership_ended(self, session: AsyncSession, event: MembershipEnded) -> None:
        await _learn_membership(session, event, ended=True)
        await self.notifier.notify(session, intents.membership_ended(event, self.links))

    async def payment_recorded(self, session: AsyncSession, event: PaymentRecorded) -> None:
        await _learn_email(session, event)
        await self.notifier.notify(session, intents.payment_receipt(event, self.links))

    async def refund_recorded(self, session: AsyncSession, event: RefundRecorded) -> None:
        await _learn_email(session, event)
        await self.notifier.notify(session, intents.refund_confirmation(event, self.links))

    async def dispute_opened(self, session: AsyncSession, event: DisputeOpened) -> None:
        await self.notifier.notify(session, intents.dispute_alert(event, self.links))

    async def learn_email(self, session: AsyncSession, event: DomainEvent) -> None:
        await _learn_email(session, event)

    async def invoice_payment_failed(self, session: AsyncSession, event: StripeEvent) -> None:
        invoice = event.object_as(Invoice)
        intent = intents.payment_failed(invoice, self.links)
        if intent.group_id is None:  # another app's invoice on a shared Stripe account
            ignore_foreign("notifications", event, f"invoice {invoice.id} names no group")
            return
        await self.notifier.notify(session, intent)

    def domain(self) -> dict[str, EventHandler]:
        """Handlers by domain event type."""
        return {
            "membership.activated": self.membership_activated,
            "membership.renewed": self.membership_renewed,
            "membership.tier_changed": self.membership_tier_changed,
            "membership.past_due": self.membership_past_due,
            "membership.canceled": self.membership_ended,
            "membership.expired": self.membership_ended,
            "membership.revoked": self.membership_ended,
            "ledger.payment_recorded": self.payment_recorded,
            "ledger.refund_recorded": self.refund_recorded,
            "ledger.dispute_opened": self.dispute_opened,
            "checkout.purchase.paid": self.learn_email,
            "checkout.purchase.claimed": self.learn_email,
        }

    def stripe(self) -> dict[str, EventHandler]:
        """Handlers by Stripe event type."""
        return {"invoice.payment_failed": self.invoice_payment_failed}
