"""Stripe's facts about a member's sources recorded in Stripe's order — subscription
snapshots (stored if newest, ignored if older, re-read when unclear; what a newer one replaces
is cancelled), paid terms, reversals — each followed by the member's reconciled membership."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from membership.adapters.billing import Read, StripeBilling
from membership.adapters.repository import MemberState
from membership.config import Settings
from membership.domain import rules, snapshots
from membership.domain.credits import Allocation
from membership.domain.errors import NotAMembership
from membership.domain.metadata import MembershipMetadata
from membership.domain.model import (
    Entitlement,
    MembershipKey,
    Sources,
    StripeTime,
    SubscriptionRecord,
    Term,
)
from membership.domain.snapshots import from_timestamp
from membership.service_layer import credits
from membership.service_layer.ending import end_now
from membership.service_layer.memberships import reconcile
from membership.service_layer.unit_of_work import MembershipUnitOfWork
from tollgate_shared.contracts.stripe_objects import CheckoutSession, Subscription

Clock = Callable[[], datetime]


class Cause(Protocol):
    """What a change is recorded as caused by: a Stripe event, or a member's request that
    changed the subscription at Stripe (`self_service.Request`)."""

    @property
    def id(self) -> str: ...

    @property
    def created(self) -> int: ...


class Recorder:
    """Records what `StripeEvents` parsed, under the member's lock, and reconciles."""

    def __init__(self, billing: StripeBilling, settings: Settings, clock: Clock) -> None:
        self._billing = billing
        self._settings = settings
        self._clock = clock

    async def note(
        self,
        uow: MembershipUnitOfWork,
        subscription_id: str,
        event: Cause,
        *,
        meta: MembershipMetadata | None,
        customer: str | None,
        email: str | None,
        paid_through: datetime | None = None,
    ) -> SubscriptionRecord | None:
        """What an invoice or a checkout tells of its subscription, under the member's lock and
        without asking Stripe: the payer's email (the latest one given), and for a paid invoice
        the period end it pays through (the latest one kept). Its state comes from
        its own snapshots, which Stripe sends for every change (the first payment's and each
        renewal's too). Before the first snapshot the subscription is stored as awaited
        (`SubscriptionRecord.awaited`: whose it is, not its state), which any snapshot
        replaces. The subscription as stored; None for one whose invoice tells nothing of it
        (`meta` None, no copy) and that was never stored: not a membership's, or its snapshots
        will place it."""
        if meta is not None:
            key = meta.key
        else:
            known = await uow.memberships.subscription(subscription_id)
            if known is None:
                return None
            key = MembershipKey(known.user_id, known.group_id)
        await uow.memberships.lock(key)
        stored = await uow.memberships.subscription(subscription_id)
        if stored is not None:
            base = stored
        elif meta is not None:
            base = self._awaited(subscription_id, meta, event, customer=customer, email=email)
        else:
            return None
        noted = replace(
            base,
            email=email or base.email,
            paid_through=rules.latest(base.paid_through, paid_through),
        )
        if noted != stored:
            await uow.memberships.save_subscription(noted)
        return noted

    @staticmethod
    def _awaited(
        subscription_id: str,
        meta: MembershipMetadata,
        event: Cause,
        *,
        customer: str | None,
        email: str | None,
    ) -> SubscriptionRecord:
        """A subscription an invoice or a checkout names before its first snapshot: whose it
        is and the payer's email; as state, Stripe's `incomplete` (no access) from second 0,
        so that any snapshot of it is newer."""
        return SubscriptionRecord(
            id=subscription_id,
            user_id=meta.user_id,
            group_id=meta.group_id,
            tier_id=meta.tier_id,
            status="incomplete",
            cancel_at_period_end=False,
            period_end=None,
            created=event.created,
            version=0,
            last_event_id=event.id,
            previous_subscription_id=meta.previous_subscription_id,
            customer_id=customer,
            email=email,
        )

    async def _read(
        self,
        uow: MembershipUnitOfWork,
        subscription_id: str,
        meta: MembershipMetadata,
        event: Cause,
    ) -> Read:
        """The subscription as Stripe has it now. A read may be newer than the events still to
        come (a backlog): when it no longer entitles, the member's other live subscriptions of
        its customer are stored as read too, so a replacement made meanwhile (a tier switch)
        is known with it rather than announced as a new membership after an end."""
        # Re-read: two snapshots of one second that neither their time nor their states order.
        current = await self._billing.subscription(subscription_id)
        customer = current.subscription.customer
        if current.subscription.status in rules.ENTITLING or customer is None:
            return current
        # The read may be ahead of the queued events: only Stripe tells what replaced this one.
        others, at = await self._billing.live_subscriptions(customer)
        for other in others:
            try:
                theirs = MembershipMetadata.parse(other.metadata)
            except NotAMembership:
                continue  # not placeable: its own events are parked
            if other.id != subscription_id and theirs and theirs.key == meta.key:
                await self._store(uow, Read(other, at), event)
        return current

    async def apply(
        self,
        uow: MembershipUnitOfWork,
        snapshot: Subscription,
        event: Cause,
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
                await self.reconcile(uow, each, event)
        else:
            await self.reconcile(uow, key, event, state=state)
        return record

    async def _store(
        self,
        uow: MembershipUnitOfWork,
        read: Read,
        event: Cause,
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
        event: Cause,
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
        return record

    def _received(
        self,
        snapshot: Subscription,
        meta: MembershipMetadata,
        event: Cause,
        *,
        read_at: StripeTime | None,
        email: str | None,
    ) -> SubscriptionRecord:
        """The snapshot as a record stamped with its Stripe time: an event's when Stripe created
        the event, a read's when it was read (never the time of the event that made us read)."""
        seen = self._clock() if read_at else datetime.fromtimestamp(event.created, UTC)
        return snapshots.record_of(
            snapshot,
            meta,
            event_id=event.id,
            event_created=event.created,
            read_at=read_at,
            seen=seen,
            email=email,
        )

    async def _cancel_superseded(
        self, uow: MembershipUnitOfWork, related: list[SubscriptionRecord], event: Cause
    ) -> set[MembershipKey]:
        """Cancel, once, the subscriptions a newer one of the member replaces (among a saved
        subscription and those `related` to it); the members whose subscriptions changed."""
        touched: set[MembershipKey] = set()
        for old, new_id in rules.superseded(related):
            await uow.memberships.lock(MembershipKey(old.user_id, old.group_id))
            # Stored state may lag Stripe's (a cancel still queued): cancel only what it bills.
            current = await self._billing.subscription(old.id)
            requested = current.subscription.status in rules.BILLABLE
            if requested:
                current = await self._billing.cancel_superseded(old.id, new_id)
            await self._store(uow, current, event, cancel_requested=requested)
            touched.add(MembershipKey(old.user_id, old.group_id))
        return touched

    async def add_term(
        self,
        uow: MembershipUnitOfWork,
        checkout: CheckoutSession,
        meta: MembershipMetadata,
        event: Cause,
    ) -> None:
        """Record the term a paid one-time checkout bought, once, and allocate its credits
        for when it starts. Bought while a subscription of the group runs, it replaces it
        (`_leave_subscriptions`)."""
        key = MembershipKey(meta.user_id, meta.group_id)
        await uow.memberships.lock(key)
        sources = await uow.memberships.sources(key)
        if sources is not None and any(t.id == checkout.id for t in sources.terms):
            return  # recorded before: nothing asked of Stripe again
        paid_at = datetime.fromtimestamp(event.created, UTC)
        term = Term(
            id=checkout.id,
            user_id=meta.user_id,
            group_id=meta.group_id,
            tier_id=meta.tier_id,
            paid_at=paid_at,
            term_days=meta.term_days or self._settings.membership_default_term_days,
            payment_intent_id=checkout.payment_intent,
            email=checkout.email,
            starts_at=await self._leave_subscriptions(uow, sources, event),
        )
        if await uow.memberships.add_term(term):
            await self.reconcile(uow, key, event)
            # Credits of the term come when it starts: after the terms before it, and after
            # the subscription period it follows, whose credits stay until then.
            earlier = rules.term_end(sources.terms) if sources is not None else None
            start = max(term.start, earlier) if earlier is not None else term.start
            cycle = Allocation(
                cause=checkout.id,
                allowances=meta.credit_allowances,
                cycle_start=start,
                cycle_end=start + timedelta(days=term.term_days),
            )
            await credits.allocate(uow, key, cycle, now=self._clock())

    async def _leave_subscriptions(
        self, uow: MembershipUnitOfWork, sources: Sources | None, event: Cause
    ) -> datetime | None:
        """End the member's subscriptions of the group that a one-time term bought now
        replaces (those made before it), once each; when the term starts: None for at once.

        By the group's `one_time_switch` setting (else `MEMBERSHIP_ANNUAL_SWITCH`): `period_end`
        ends each at its period end and the term starts then; `now` cancels it now with the
        unused part of its last payment refunded.
        One that is not in good standing (past_due, unpaid, paused) is cancelled now."""
        starts: datetime | None = None
        leaving = [
            old
            for old in (sources.subscriptions if sources is not None else [])
            if old.status in rules.BILLABLE and old.created <= event.created
        ]
        if not leaving:
            return None
        announced = await uow.groups.policy(leaving[0].group_id)
        at_period_end = self._settings.policy(announced).one_time_switch == "period_end"
        for old in leaving:
            if old.status in rules.ENTITLING and at_period_end:
                read = (
                    await self._billing.schedule_end(old.id, at_period_end=True)
                    if not old.cancel_at_period_end
                    else None
                )
                if read is not None:
                    await self._store(uow, read, event, cancel_requested=True)
                end = from_timestamp(read.subscription.period_end) if read else old.period_end
                if end is not None and (starts is None or end > starts):
                    starts = end
                continue
            refund = old.status in rules.ENTITLING
            read, _ = await end_now(
                self._billing, old, refund=refund, now=self._clock(), by="one-time-switch"
            )
            await self._store(uow, read, event, cancel_requested=True)
        return starts

    async def reverse(
        self,
        uow: MembershipUnitOfWork,
        payment_intent_id: str,
        reason: str,
        event: Cause,
        *,
        membership: bool,
    ) -> None:
        """Record the reversal of a one-time membership's payment, then apply it. It may arrive
        before the payment's checkout: then it is recorded if `membership` (the event's object
        says the payment was a membership's, as a refunded charge's metadata does, or cannot
        tell, as a dispute: kept, it only ever applies to a term recorded for this payment).
        Stripe is not asked. Any other payment's refund records nothing."""
        if self._settings.membership_one_time_reversal == "keep":
            return
        term = await uow.memberships.term_paid_by(payment_intent_id)
        if term is None and not membership:
            return
        at = datetime.fromtimestamp(event.created, UTC)
        await uow.memberships.add_reversal(payment_intent_id, at=at, reason=reason)
        if term is not None:
            await self.reconcile(uow, MembershipKey(term.user_id, term.group_id), event)

    async def reconcile(
        self,
        uow: MembershipUnitOfWork,
        key: MembershipKey,
        event: Cause,
        *,
        state: MemberState | None = None,
    ) -> Entitlement:
        """`key`'s membership recomputed now, its changes announced as caused by `event`."""
        return await reconcile(
            uow,
            key,
            grace=self._settings.grace,
            now=self._clock(),
            cause=event.id,
            causation_id=event.id,
            state=state,
        )
