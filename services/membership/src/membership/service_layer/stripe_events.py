"""One handler per Stripe event membership reacts to (each runs in the consumer's transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import ValidationError

from membership.adapters.billing import StripeBilling
from membership.config import Settings
from membership.domain import rules
from membership.domain.announcements import build
from membership.domain.credits import Allocation
from membership.domain.errors import NotAMembership
from membership.domain.metadata import MembershipMetadata, is_membership
from membership.domain.model import MembershipKey, SubscriptionRecord
from membership.domain.snapshots import from_timestamp
from membership.service_layer import credits
from membership.service_layer.recording import Clock, Recorder
from membership.service_layer.unit_of_work import MembershipUnitOfWork
from tollgate_shared.contracts.membership import MembershipRenewed
from tollgate_shared.contracts.stripe import StripeEvent
from tollgate_shared.contracts.stripe_objects import (
    Charge,
    CheckoutSession,
    Dispute,
    Invoice,
    Subscription,
)

SUBSCRIPTION_TYPES = "customer.subscription."

CYCLE_STARTS = frozenset({"subscription_create", "subscription_cycle"})
"""Billing reasons of an invoice that pays a new billing cycle (which allocates credits)."""


class StripeEvents:
    """Turns Stripe's facts into memberships; see README "Order and duplicates" for the rule.
    Its `on_<event>` methods are the handlers `entrypoints/consumers.HANDLERS` maps."""

    def __init__(
        self, billing: StripeBilling, settings: Settings, clock: Clock = lambda: datetime.now(UTC)
    ) -> None:
        self._billing = billing
        self._clock = clock
        self._recorder = Recorder(billing, settings, clock)

    async def lock_ahead(self, uow: MembershipUnitOfWork, events: Sequence[StripeEvent]) -> None:
        """Before a fetch's handlers: lock the members of the subscriptions its events name
        with their metadata (snapshots, invoices with Stripe's copy, subscription checkouts),
        read those subscriptions as stored, and the credit balances of the members whose paid
        invoices start a cycle, each in one statement for the whole fetch, instead of a
        statement or two per event (what cannot be read is left to its handler to reject)."""
        keys: set[MembershipKey] = set()
        cycles: set[MembershipKey] = set()
        ids: list[str] = []
        for event in events:
            try:
                named = _named_subscription(event)
            except (ValidationError, NotAMembership):
                continue
            if named is not None:
                keys.add(named[0])
                ids.append(named[1])
                if event.type == "invoice.paid" and _starts_cycle(event):
                    cycles.add(named[0])
        if ids:
            await uow.memberships.lock_ahead(keys, ids)
        if cycles:  # the credits each paid cycle allocates start from the member's balances
            await uow.credits.lock_ahead(cycles)

    async def on_subscription_changed(self, uow: MembershipUnitOfWork, event: StripeEvent) -> None:
        """A subscription's snapshot: applied if newest, ignored if older, re-read if unclear."""
        await self._recorder.apply(uow, event.object_as(Subscription), event)

    async def on_checkout_settled(self, uow: MembershipUnitOfWork, event: StripeEvent) -> None:
        """A membership checkout finished: sync its subscription, or record its paid term."""
        checkout = event.object_as(CheckoutSession)
        meta = MembershipMetadata.parse(
            checkout.metadata, fallback_user_id=checkout.client_reference_id
        )
        if meta is None:
            return
        if checkout.mode == "subscription" and checkout.subscription:
            await self._recorder.note(
                uow,
                checkout.subscription,
                event,
                meta=meta,
                customer=checkout.customer,
                email=checkout.email,
            )
        elif checkout.mode == "payment" and checkout.payment_status == "paid":
            await self._recorder.add_term(uow, checkout, meta, event)

    async def on_invoice_paid(self, uow: MembershipUnitOfWork, event: StripeEvent) -> None:
        """A paid cycle allocates the tier's credits; a paid cycle invoice of the subscription
        in use is a renewal (the subscription's state comes from its own snapshots)."""
        invoice = event.object_as(Invoice)
        paid_through = from_timestamp(invoice.line_period_end)
        record = await self._note_invoice(uow, invoice, event, paid_through=paid_through)
        if record is None:
            return
        key = MembershipKey(record.user_id, record.group_id)
        if record.voids_renewals and not record.awaited:
            await self._recorder.reconcile(uow, key, event)  # what it paid may grant longer
        if invoice.billing_reason not in CYCLE_STARTS:
            return
        cycle = await self._cycle_of(invoice, event)
        await credits.allocate(uow, key, cycle, now=self._clock(), after_terms=True)
        if invoice.billing_reason != "subscription_cycle" or record.awaited:
            return
        now = await self._recorder.reconcile(uow, key, event)
        if now.active and now.access and now.access.subscription_id == record.id:
            # The period it paid, even when the snapshot that moves it has not arrived yet.
            expires_at = rules.latest(now.access.expires_at, paid_through)
            renewed = build(
                MembershipRenewed,
                now,
                cause=invoice.id,
                causation_id=event.id,
                expires_at=expires_at,
            )
            uow.emit(renewed)

    async def on_invoice_payment_failed(
        self, uow: MembershipUnitOfWork, event: StripeEvent
    ) -> None:
        """Note the payer's email (the subscription's snapshot tells it is past_due)."""
        await self._note_invoice(uow, event.object_as(Invoice), event)

    async def on_charge_refunded(self, uow: MembershipUnitOfWork, event: StripeEvent) -> None:
        """A fully refunded one-time membership payment takes its term back (policy). The
        charge carries its payment intent's metadata, so it tells whether it paid one."""
        charge = event.object_as(Charge)
        if charge.payment_intent and charge.amount_refunded >= charge.amount:
            paid_membership = is_membership(charge.metadata)
            await self._recorder.reverse(
                uow, charge.payment_intent, "refunded", event, membership=paid_membership
            )

    async def on_dispute_closed(self, uow: MembershipUnitOfWork, event: StripeEvent) -> None:
        """A lost dispute of a one-time membership payment takes its term back (policy). A
        dispute carries none of its payment's metadata, and may be applied before the payment's
        checkout (another fetch): its reversal is kept, unread, and takes back only a term that
        is or will be recorded for that payment (never another app's, which has none)."""
        dispute = event.object_as(Dispute)
        if dispute.status == "lost" and dispute.payment_intent:
            await self._recorder.reverse(
                uow, dispute.payment_intent, "dispute_lost", event, membership=True
            )

    async def _cycle_of(self, invoice: Invoice, event: StripeEvent) -> Allocation:
        """The credits a paid subscription invoice brings (its copy of the subscription's
        metadata names them), for the period its lines bill."""
        assert invoice.subscription_id is not None
        meta = MembershipMetadata.parse(invoice.subscription_metadata)
        if not invoice.carries_subscription_metadata:
            # A membership's invoice from before Stripe copied the metadata names no allowances.
            read = await self._billing.subscription(invoice.subscription_id)
            meta = MembershipMetadata.parse(read.subscription.metadata)
        periods = [line.period for line in invoice.lines.data if line.period]
        start = min((p.start for p in periods), default=event.created)
        return Allocation(
            cause=invoice.id,
            allowances=meta.credit_allowances if meta else {},
            cycle_start=datetime.fromtimestamp(start, UTC),
            cycle_end=from_timestamp(max((p.end for p in periods), default=None)),
        )

    async def _note_invoice(
        self,
        uow: MembershipUnitOfWork,
        invoice: Invoice,
        event: StripeEvent,
        *,
        paid_through: datetime | None = None,
    ) -> SubscriptionRecord | None:
        """The membership subscription an invoice bills, as stored (see `Recorder.note`)."""
        if invoice.subscription_id is None:
            return None
        if invoice.carries_subscription_metadata and not is_membership(
            invoice.subscription_metadata
        ):
            return None  # a purchase, or another app's subscription: no read needed to tell
        # None when the invoice's API version carries no copy: the stored subscription tells.
        meta = MembershipMetadata.parse(invoice.subscription_metadata)
        return await self._recorder.note(
            uow,
            invoice.subscription_id,
            event,
            meta=meta,
            customer=invoice.customer,
            email=invoice.customer_email,
            paid_through=paid_through,
        )


def _named_subscription(event: StripeEvent) -> tuple[MembershipKey, str] | None:
    """The membership and subscription an event names by metadata it carries, if it does."""
    meta: MembershipMetadata | None = None
    subscription_id: str | None = None
    if event.type.startswith(SUBSCRIPTION_TYPES):
        snapshot = event.object_as(Subscription)
        meta, subscription_id = MembershipMetadata.parse(snapshot.metadata), snapshot.id
    elif event.type.startswith("invoice."):
        invoice = event.object_as(Invoice)
        if invoice.carries_subscription_metadata:
            meta = MembershipMetadata.parse(invoice.subscription_metadata)
            subscription_id = invoice.subscription_id
    elif event.type.startswith("checkout.session."):
        checkout = event.object_as(CheckoutSession)
        if checkout.mode == "subscription":
            fallback = checkout.client_reference_id
            meta = MembershipMetadata.parse(checkout.metadata, fallback_user_id=fallback)
            subscription_id = checkout.subscription
    if meta is None or subscription_id is None:
        return None
    return meta.key, subscription_id


def _starts_cycle(event: StripeEvent) -> bool:
    return event.data.object.get("billing_reason") in CYCLE_STARTS
