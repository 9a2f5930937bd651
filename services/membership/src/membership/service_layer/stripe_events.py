"""One handler per Stripe event membership reacts to (each runs in the consumer's transaction)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from membership.adapters.billing import Read, StripeBilling
from membership.adapters.repository import MemberState
from membership.config import Settings
from membership.domain import rules
from membership.domain.announcements import build
from membership.domain.credits import Allocation
from membership.domain.errors import NotAMembership
from membership.domain.metadata import MembershipMetadata, is_membership
from membership.domain.model import (
    Entitlement,
    MembershipKey,
    StripeTime,
    SubscriptionRecord,
    Term,
)
from membership.service_layer import credits
from membership.service_layer.memberships import reconcile
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

Clock = Callable[[], datetime]

SUBSCRIPTION_TYPES = "customer.subscription."

CYCLE_STARTS = frozenset({"subscription_create", "subscription_cycle"})
"""Billing reasons of an invoice that pays a new billing cycle (which allocates credits)."""


def _at(timestamp: int | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, UTC) if timestamp is not None else None


class StripeEvents:
    """Turns Stripe's facts into memberships; see README "Order and duplicates" for the rule.
    Its `on_<event>` methods are the handlers `entrypoints/consumers.HANDLERS` maps."""

    def __init__(
        self, billing: StripeBilling, settings: Settings, clock: Clock = lambda: datetime.now(UTC)
    ) -> None:
        self._billing = billing
        self._settings = settings
        self._clock = clock

    async def lock_ahead(self, uow: MembershipUnitOfWork, events: Sequence[StripeEvent]) -> None:
        """Before a fetch's handlers: lock the members of its subscription snapshots and read
        their stored subscriptions, each in one statement for the whole fetch, instead of two
        statements per event (what cannot be read is left to its handler to reject)."""
        keys: set[MembershipKey] = set()
        ids: list[str] = []
        for event in events:
            if not event.type.startswith(SUBSCRIPTION_TYPES):
                continue
            try:
                snapshot = event.object_as(Subscription)
                meta = MembershipMetadata.parse(snapshot.metadata)
            except (ValidationError, NotAMembership):
                continue
            if meta is not None:
                keys.add(MembershipKey(meta.user_id, meta.group_id))
                ids.append(snapshot.id)
        if ids:
            await uow.memberships.lock_ahead(keys, ids)

    async def on_subscription_changed(self, uow: MembershipUnitOfWork, event: StripeEvent) -> None:
        """A subscription's snapshot: applied if newest, ignored if older, re-read if unclear."""
        await self._apply(uow, event.object_as(Subscription), event)

    async def on_checkout_settled(self, uow: MembershipUnitOfWork, event: StripeEvent) -> None:
        """A membership checkout finished: sync its subscription, or record its paid term."""
        checkout = event.object_as(CheckoutSession)
        meta = MembershipMetadata.parse(
            checkout.metadata, fallback_user_id=checkout.client_reference_id
        )
        if meta is None:
            return
        if checkout.mode == "subscription" and checkout.subscription:
            await self._sync(uow, checkout.subscription, event, email=checkout.email, meta=meta)
        elif checkout.mode == "payment" and checkout.payment_status == "paid":
            await self._add_term(uow, checkout, meta, event)

    async def on_invoice_paid(self, uow: MembershipUnitOfWork, event: StripeEvent) -> None:
        """Sync the subscription; a paid cycle allocates the tier's credits; a paid cycle invoice
        of the current subscription is a renewal."""
        invoice = event.object_as(Invoice)
        record = await self._sync_invoice(uow, invoice, event)
        if record is None or invoice.billing_reason not in CYCLE_STARTS:
            return
        key = MembershipKey(record.user_id, record.group_id)
        await credits.allocate(uow, key, await self._cycle_of(invoice, event))
        if invoice.billing_reason != "subscription_cycle":
            return
        now = await self._reconcile(uow, key, event)
        if now.active and now.access and now.access.subscription_id == record.id:
            renewed = build(MembershipRenewed, now, cause=invoice.id, causation_id=event.id)
            uow.emit(renewed)

    async def on_invoice_payment_failed(
        self, uow: MembershipUnitOfWork, event: StripeEvent
    ) -> None:
        """Sync the subscription (it is past_due or about to be)."""
        await self._sync_invoice(uow, event.object_as(Invoice), event)

    async def on_charge_refunded(self, uow: MembershipUnitOfWork, event: StripeEvent) -> None:
        """A fully refunded one-time membership payment takes its term back (policy). The
        charge carries its payment intent's metadata, so it tells whether it paid one."""
        charge = event.object_as(Charge)
        if charge.payment_intent and charge.amount_refunded >= charge.amount:
            paid_membership = is_membership(charge.metadata)
            await self._reverse(
                uow, charge.payment_intent, "refunded", event, membership=paid_membership
            )

    async def on_dispute_closed(self, uow: MembershipUnitOfWork, event: StripeEvent) -> None:
        """A lost dispute of a one-time membership payment takes its term back (policy)."""
        dispute = event.object_as(Dispute)
        if dispute.status == "lost" and dispute.payment_intent:
            await self._reverse(uow, dispute.payment_intent, "dispute_lost", event)

    async def _cycle_of(self, invoice: Invoice, event: StripeEvent) -> Allocation:
        """The credits a paid subscription invoice brings, for the period its lines bill."""
        assert invoice.subscription_id is not None
        meta = MembershipMetadata.parse(invoice.subscription_metadata) or MembershipMetadata.parse(
            (await self._billing.subscription(invoice.subscription_id)).subscription.metadata
        )
        periods = [line.period for line in invoice.lines.data if line.period]
        start = min((p.start for p in periods), default=event.created)
        return Allocation(
            cause=invoice.id,
            allowances=meta.credit_allowances if meta else {},
            cycle_start=datetime.fromtimestamp(start, UTC),
            cycle_end=_at(max((p.end for p in periods), default=None)),
        )

    async def _sync_invoice(
        self, uow: MembershipUnitOfWork, invoice: Invoice, event: StripeEvent
    ) -> SubscriptionRecord | None:
        if invoice.subscription_id is None:
            return None
        if invoice.carries_subscription_metadata and not is_membership(
            invoice.subscription_metadata
        ):
            return None  # a purchase, or another app's subscription: no read needed to tell
        # None when the invoice's API version carries no copy: `_sync` reads the subscription.
        meta = MembershipMetadata.parse(invoice.subscription_metadata)
        return await self._sync(
            uow, invoice.subscription_id, event, email=invoice.customer_email, meta=meta
        )

    async def _sync(
        self,
        uow: MembershipUnitOfWork,
        subscription_id: str,
        event: StripeEvent,
        *,
        email: str | None,
        meta: MembershipMetadata | None,
    ) -> SubscriptionRecord | None:
        """Apply the subscription as Stripe has it now, read while holding the member's lock
        (so a concurrent, older read cannot be stored after it)."""
        if meta is None:
            meta = MembershipMetadata.parse(
                (await self._billing.subscription(subscription_id)).subscription.metadata
            )
            if meta is None:
                return None
        await uow.memberships.lock(MembershipKey(meta.user_id, meta.group_id))
        current = await self._read(uow, subscription_id, meta, event)
        return await self._apply(uow, current.subscription, event, read_at=current.at, email=email)

    async def _read(
        self,
        uow: MembershipUnitOfWork,
        subscription_id: str,
        meta: MembershipMetadata,
        event: StripeEvent,
    ) -> Read:
        """The subscription as Stripe has it now. A read may be newer than the events still to
        come (a backlog): when it no longer entitles, the member's other live subscriptions of
        its customer are stored as read too, so a replacement made meanwhile (a tier switch)
        is known with it rather than announced as a new membership after an end."""
        current = await self._billing.subscription(subscription_id)
        customer = current.subscription.customer
        if current.subscription.status in rules.ENTITLING or customer is None:
            return current
        others, at = await self._billing.live_subscriptions(customer)
        for other in others:
            try:
                theirs = MembershipMetadata.parse(other.metadata)
            except NotAMembership:
                continue  # not placeable: its own events are parked
            if other.id != subscription_id and theirs and theirs.key == meta.key:
                await self._store(uow, Read(other, at), event)
        return current

    async def _apply(
        self,
        uow: MembershipUnitOfWork,
        snapshot: Subscription,
        event: StripeEvent,
        *,
        read_at: StripeTime | None = None,
        email: str | None = None,
    ) -> SubscriptionRecord | None:
        """Store the snapshot (the event's, or one read from Stripe `read_at`) as ordering
        allows, cancel what it supersedes, reconcile. Saving reads back what the rest needs:
        the member's state only stays current if nothing was superseded (else every touched
        member is read again)."""
        record = await self._merged(uow, snapshot, event, read_at=read_at, email=email)
        if record is None:
            return None
        related, state = await uow.memberships.save_subscription_reading(record)
        key = MembershipKey(record.user_id, record.group_id)
        touched = await self._cancel_superseded(uow, related, event)
        if touched:
            for each in sorted(touched | {key}, key=lambda k: (k.group_id, k.user_id)):
                await self._reconcile(uow, each, event)
        else:
            await self._reconcile(uow, key, event, state=state)
        return record

    async def _store(
        self,
        uow: MembershipUnitOfWork,
        read: Read,
        event: StripeEvent,
        *,
        cancel_requested: bool = False,
    ) -> None:
        """Save what `rules.merge` keeps of a subscription read from Stripe, if anything."""
        record = await self._merged(
            uow, read.subscription, event, read_at=read.at, cancel_requested=cancel_requested
        )
        if record is not None:
            await uow.memberships.save_subscription(record)

    async def _merged(
        self,
        uow: MembershipUnitOfWork,
        snapshot: Subscription,
        event: StripeEvent,
        *,
        read_at: StripeTime | None,
        email: str | None = None,
        cancel_requested: bool = False,
    ) -> SubscriptionRecord | None:
        """What `rules.merge` keeps of the snapshot (re-reading Stripe when it is unclear), to
        be saved; None when nothing changed. Takes the member's lock first."""
        meta = MembershipMetadata.parse(snapshot.metadata)
        if meta is None:
            return None
        await uow.memberships.lock(MembershipKey(meta.user_id, meta.group_id))
        stored = await uow.memberships.subscription(snapshot.id)
        incoming = self._received(snapshot, meta, event, read_at=read_at, email=email)
        decision, record = rules.merge(stored, incoming, fresh=read_at is not None)
        if decision is rules.Ordering.REREAD:
            current = await self._read(uow, snapshot.id, meta, event)
            meta = MembershipMetadata.parse(current.subscription.metadata) or meta
            again = self._received(
                current.subscription, meta, event, read_at=current.at, email=email
            )
            decision, record = rules.merge(stored, rules.reread(incoming, again), fresh=True)
        if record is None:
            return None
        if cancel_requested:
            record = replace(record, cancel_requested_at=self._clock())
        if record.email is None and record.customer_id and stored is None:
            record = replace(record, email=await self._billing.customer_email(record.customer_id))
        return record

    def _received(
        self,
        snapshot: Subscription,
        meta: MembershipMetadata,
        event: StripeEvent,
        *,
        read_at: StripeTime | None,
        email: str | None,
    ) -> SubscriptionRecord:
        """The snapshot as a record stamped with its Stripe time: an event's when Stripe created
        the event, a read's when it was read (never the time of the event that made us read)."""
        seen = self._clock() if read_at else datetime.fromtimestamp(event.created, UTC)
        return SubscriptionRecord(
            id=snapshot.id,
            user_id=meta.user_id,
            group_id=meta.group_id,
            tier_id=meta.tier_id,
            status=snapshot.status,
            cancel_at_period_end=snapshot.cancel_at_period_end,
            period_end=_at(snapshot.period_end),
            created=snapshot.created or event.created,
            version=read_at.until if read_at else event.created,
            version_from=read_at.since if read_at else None,
            last_event_id=event.id,
            past_due_since=seen if snapshot.status == "past_due" else None,
            previous_subscription_id=meta.previous_subscription_id,
            customer_id=snapshot.customer,
            email=email,
        )

    async def _cancel_superseded(
        self, uow: MembershipUnitOfWork, related: list[SubscriptionRecord], event: StripeEvent
    ) -> set[MembershipKey]:
        """Cancel, once, the subscriptions a newer one of the member replaces (among a saved
        subscription and those `related` to it); the members whose subscriptions changed."""
        touched: set[MembershipKey] = set()
        for old, new_id in rules.superseded(related):
            await uow.memberships.lock(MembershipKey(old.user_id, old.group_id))
            current = await self._billing.subscription(old.id)
            requested = current.subscription.status in rules.BILLABLE
            if requested:
                current = await self._billing.cancel_superseded(old.id, new_id)
            await self._store(uow, current, event, cancel_requested=requested)
            touched.add(MembershipKey(old.user_id, old.group_id))
        return touched

    async def _add_term(
        self,
        uow: MembershipUnitOfWork,
        checkout: CheckoutSession,
        meta: MembershipMetadata,
        event: StripeEvent,
    ) -> None:
        key = MembershipKey(meta.user_id, meta.group_id)
        await uow.memberships.lock(key)
        term = Term(
            id=checkout.id,
            user_id=meta.user_id,
            group_id=meta.group_id,
            tier_id=meta.tier_id,
            paid_at=datetime.fromtimestamp(event.created, UTC),
            term_days=meta.term_days or self._settings.membership_default_term_days,
            payment_intent_id=checkout.payment_intent,
            email=checkout.email,
        )
        if await uow.memberships.add_term(term):
            await self._reconcile(uow, key, event)
            cycle = Allocation(
                cause=checkout.id,
                allowances=meta.credit_allowances,
                cycle_start=term.paid_at,
                cycle_end=term.paid_at + timedelta(days=term.term_days),
            )
            await credits.allocate(uow, key, cycle)

    async def _reverse(
        self,
        uow: MembershipUnitOfWork,
        payment_intent_id: str,
        reason: str,
        event: StripeEvent,
        *,
        membership: bool | None = None,
    ) -> None:
        """Record the reversal of a one-time membership's payment, then apply it. It may arrive
        before the payment's checkout: then whether the payment was a membership's is
        `membership` (what the event's object tells), else read from Stripe (a dispute carries
        none of its payment's metadata). Any other payment's (a subscription's, a purchase,
        another app's on a shared Stripe account) records nothing."""
        if self._settings.membership_one_time_reversal == "keep":
            return
        term = await uow.memberships.term_paid_by(payment_intent_id)
        if term is None:
            if membership is None:
                membership = is_membership(await self._billing.payment_metadata(payment_intent_id))
            if not membership:
                return
        at = datetime.fromtimestamp(event.created, UTC)
        await uow.memberships.add_reversal(payment_intent_id, at=at, reason=reason)
        if term is not None:
            await self._reconcile(uow, MembershipKey(term.user_id, term.group_id), event)

    async def _reconcile(
        self,
        uow: MembershipUnitOfWork,
        key: MembershipKey,
        event: StripeEvent,
        *,
        state: MemberState | None = None,
    ) -> Entitlement:
        return await reconcile(
            uow,
            key,
            grace=self._settings.grace,
            now=self._clock(),
            cause=event.id,
            causation_id=event.id,
            state=state,
        )
