"""One handler per consumed event: learn what it tells about recipients, record intents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from notifications.domain import details, intents, stripe_intents
from notifications.domain.details import PaidCharge, PaidInvoice, StripeSubscription
from notifications.domain.links import Links
from notifications.domain.model import Kind
from notifications.service_layer.notifier import Notifier, superseded
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork
from tollgate_shared.contracts.base import DomainEvent
from tollgate_shared.contracts.checkout import (
    CatalogEntryChanged,
    GroupSettingsChanged,
    PurchaseEvent,
    PurchasePaid,
)
from tollgate_shared.contracts.ledger import (
    DisputeClosed,
    DisputeOpened,
    PaymentRecorded,
    PayoutRecorded,
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


async def _paid_for(uow: NotificationsUnitOfWork, charge_id: str | None) -> list[dict[str, Any]]:
    """What the payment of `charge_id` was for (a refund or dispute of it names the same): as
    its receipt named it, then as its charge's details tell (a one-time payment's)."""
    if charge_id is None:
        return []
    receipt = await uow.notifications.told(Kind.PAYMENT_RECEIPT, charge_id) or {}
    return [
        {key: receipt.get(key) for key in intents.PAID_FOR},
        *await uow.details.found([charge_id]),
    ]


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
        notice = intents.refund_notice(event, self.links)
        await self.notifier.notify(uow, notice.completed(await _paid_for(uow, event.charge_id)))

    async def on_dispute_opened(self, uow: NotificationsUnitOfWork, event: DisputeOpened) -> None:
        alert = intents.dispute_alert(event, self.links)
        await self.notifier.notify(uow, alert.completed(await _paid_for(uow, event.charge_id)))

    async def on_dispute_closed(self, uow: NotificationsUnitOfWork, event: DisputeClosed) -> None:
        await self.notifier.notify(uow, intents.dispute_outcome(event, self.links))

    async def on_payout_outcome(
        self, uow: NotificationsUnitOfWork, event: intents.PayoutEvent
    ) -> None:
        """Paid, rejected or failed (a transfer refused, or a payout to the bank that came
        back); a payout in another state is not mailed."""
        if not isinstance(event, PayoutRecorded) or event.status in {"paid", *intents.CAME_BACK}:
            await self.notifier.notify(uow, intents.payout_outcome(event, self.links))

    async def on_group_settings_changed(
        self, uow: NotificationsUnitOfWork, event: GroupSettingsChanged
    ) -> None:
        await uow.directory.apply_settings(event)

    async def on_catalog_entry_changed(
        self, uow: NotificationsUnitOfWork, event: CatalogEntryChanged
    ) -> None:
        await uow.directory.apply_entry(event)

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
        intent = stripe_intents.purchase_failed(
            event.object_as(stripe_intents.ChargedIntent), self.links
        )
        if intent.group_id is not None:
            await self.notifier.notify(uow, intent)

    async def on_invoice_payment_failed(
        self, uow: NotificationsUnitOfWork, event: StripeEvent
    ) -> None:
        """Mailed unless superseded: the invoice paid or a later attempt known (whichever
        event came first), or the retry it announces already due. Its own mail supersedes
        those of earlier attempts not sent yet."""
        invoice = event.object_as(PaidInvoice)
        intent = stripe_intents.payment_failed(invoice, self.links)
        if intent.group_id is None:  # another app's invoice on a shared Stripe account
            ignore_foreign("notifications", event, f"invoice {invoice.id} names no group")
            return
        known = await uow.details.attempted(invoice.id, invoice.attempt_count, paid=False)
        if why := details.superseded(invoice, known):
            superseded(uow, intent.kind, intent.source_id, why)
            return
        await self._supersede_attempts(uow, invoice.id, below=invoice.attempt_count)
        await self.notifier.notify(uow, intent)

    async def on_invoice_paid(self, uow: NotificationsUnitOfWork, event: StripeEvent) -> None:
        """A paid invoice of ours: when it was paid (for its receipt); the mails of its failed
        attempts not sent yet are superseded, and later ones are not recorded."""
        invoice = event.object_as(PaidInvoice)
        if invoice.group_metadata.get("group_id") is None:
            ignore_foreign("notifications", event, f"invoice {invoice.id} names no group")
            return
        uow.details.learn(invoice.id, details.of_invoice(invoice))
        if period := details.of_period(invoice):  # for its membership's sale notice
            uow.details.learn(*period)
        known = await uow.details.attempted(invoice.id, invoice.attempt_count, paid=True)
        await self._supersede_attempts(uow, invoice.id, below=known.attempt_count + 1)

    async def _supersede_attempts(
        self, uow: NotificationsUnitOfWork, invoice_id: str, *, below: int
    ) -> None:
        ids = [stripe_intents.failed_attempt_key(invoice_id, n) for n in range(below)]
        uow.notifications.supersede(Kind.PAYMENT_FAILED, ids)

    async def on_charge_succeeded(self, uow: NotificationsUnitOfWork, event: StripeEvent) -> None:
        """A charge of ours (its metadata names a group: a one-time payment) tells its receipt
        when it was made and what for. Charges of invoices carry no metadata (their invoice's
        event tells) and neither do another app's: both left alone, uncounted."""
        charge = event.object_as(PaidCharge)
        if charge.metadata.get("group_id") is not None:
            uow.details.learn(charge.id, details.of_charge(charge))

    async def on_subscription_deleted(
        self, uow: NotificationsUnitOfWork, event: StripeEvent
    ) -> None:
        """Why Stripe ended a subscription of ours, for the mail of its membership's end."""
        subscription = event.object_as(StripeSubscription)
        if subscription.metadata.get("group_id") is None:
            ignore_foreign("notifications", event, f"subscription {subscription.id} names no group")
            return
        uow.details.learn(subscription.id, details.of_ended_subscription(subscription))

    async def on_trial_will_end(self, uow: NotificationsUnitOfWork, event: StripeEvent) -> None:
        """The member hears once per subscription and trial end that the trial is ending
        (not once it has ended: a late delivery is superseded)."""
        subscription = event.object_as(StripeSubscription)
        intent = stripe_intents.trial_ending(subscription, self.links)
        if intent.group_id is None:
            ignore_foreign("notifications", event, f"subscription {subscription.id} names no group")
            return
        await self.notifier.notify(uow, intent)
