"""Members managing their own memberships (and organizers and admins for them): list them,
end one at its period end, take that back, end it now with a prorated refund, switch its
tier, pause and resume its payment collection.

Stripe is asked first, outside any transaction; its answer is then recorded as a fresh read
(`Recorder.apply`), so the next request sees the change at once, and the webhook that follows
shows the same state and changes nothing."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from membership.adapters import credits_repo, groups_repo, repository
from membership.adapters.billing import Read, StripeBilling, Switched, TierOffer
from membership.config import Settings
from membership.domain import rules
from membership.domain.errors import (
    ForeignTier,
    MembershipNotFound,
    NotASubscription,
    PauseNotAllowed,
    TierFull,
    TierNotFound,
    TierNotSwitchable,
)
from membership.domain.model import GroupPolicy, MembershipKey, SubscriptionRecord
from membership.domain.self_service import (
    MembershipView,
    PauseBehavior,
    ProrationBehavior,
    SwitchPlan,
    current_subscription,
    next_actions,
    renewal_uncollected,
    switch_plan,
)
from membership.service_layer.ending import Refunded, end_now
from membership.service_layer.recording import Clock, Recorder
from membership.service_layer.unit_of_work import MembershipUnitOfWork
from tollgate_shared.contracts.stripe_objects import Subscription
from tollgate_shared.infra.stripe_client import stripe_errors_translated


@dataclass(frozen=True)
class Request:
    """A member's request that changed a subscription at Stripe, recorded as its cause."""

    id: str
    created: int

    @classmethod
    def answered(cls, read: Read) -> Request:
        return cls(id=f"req_{secrets.token_hex(12)}", created=read.at.until)


class SelfService:
    """The member's controls, over Stripe and the membership's own records."""

    def __init__(
        self,
        units: Callable[[], MembershipUnitOfWork],
        billing: StripeBilling,
        settings: Settings,
        clock: Clock,
    ) -> None:
        self._units = units
        self._billing = billing
        self._recorder = Recorder(billing, settings, clock)
        self._settings = settings
        self._clock = clock

    async def memberships(
        self, session: AsyncSession, user_id: str, group_id: str | None = None
    ) -> list[MembershipView]:
        """The user's memberships (every group, or one), each with what can be done next."""
        found = await repository.sources(session, user_id=user_id, group_id=group_id)
        credits = await credits_repo.balances_by_group(session, user_id)
        announced = await groups_repo.policies(session, found)
        views = []
        for group, sources in sorted(found.items()):
            entitlement = rules.entitlement(
                MembershipKey(user_id, group),
                sources,
                grace=self._settings.grace,
                now=self._clock(),
            )
            subscription = current_subscription(entitlement, sources)
            pausable = self._settings.policy(announced.get(group)).allow_pause
            actions = next_actions(subscription, active=entitlement.active, pausable=pausable)
            views.append(
                MembershipView(
                    entitlement=entitlement,
                    subscription=subscription,
                    credits=credits.get(group, {}),
                    actions=actions,
                )
            )
        return views

    async def membership(self, session: AsyncSession, key: MembershipKey) -> MembershipView:
        """One group's membership; `MembershipNotFound` when the user never had one."""
        views = await self.memberships(session, key.user_id, key.group_id)
        if not views:
            raise MembershipNotFound(f"{key.user_id} has no membership of {key.group_id}")
        return views[0]

    async def _subscription(self, session: AsyncSession, key: MembershipKey) -> SubscriptionRecord:
        """The membership's running subscription; the read's transaction is then ended, so
        none is held open while Stripe answers."""
        view = await self.membership(session, key)
        await session.rollback()
        subscription = view.subscription
        if subscription is None or subscription.status in rules.FINAL | rules.FIRST:
            raise NotASubscription(
                f"the membership of {key.user_id} in {key.group_id} has no running subscription"
            )
        return subscription

    async def end_at_period_end(self, session: AsyncSession, key: MembershipKey) -> MembershipView:
        """End the membership's subscription at its period end; asking again changes nothing."""
        subscription = await self._subscription(session, key)
        if not subscription.cancel_at_period_end:
            with stripe_errors_translated():
                read = await self._billing.schedule_end(subscription.id, at_period_end=True)
            await self._record(read)
        return await self.membership(session, key)

    async def resume(self, session: AsyncSession, key: MembershipKey) -> MembershipView:
        """Take back what stops the subscription renewing: an end at period end, a pause of
        its collection. A period whose invoice a member's pause voided restarts now and is
        charged (`renewal_uncollected`). Resuming a renewing one changes nothing."""
        subscription = await self._subscription(session, key)
        paused, ending = subscription.collection_paused, subscription.cancel_at_period_end
        if paused or ending:
            with stripe_errors_translated():
                read = await self._billing.resume(
                    subscription,
                    collection=paused,
                    ending=ending,
                    restart=renewal_uncollected(subscription),
                )
            await self._record(read)
        return await self.membership(session, key)

    async def pause(
        self,
        session: AsyncSession,
        key: MembershipKey,
        behavior: PauseBehavior,
        resumes_at: datetime | None,
        *,
        by_organizer: bool,
    ) -> MembershipView:
        """Pause the subscription's payment collection where the group allows it (its
        organizers and admins may always); asking again for the same changes nothing."""
        if not (by_organizer or (await self._policy(session, key.group_id)).allow_pause):
            raise PauseNotAllowed(f"{key.group_id} does not let members pause their payments")
        subscription = await self._subscription(session, key)
        asked = (behavior, resumes_at)
        if (subscription.pause_behavior, subscription.pause_resumes_at) != asked:
            resumes = int(resumes_at.timestamp()) if resumes_at else None
            with stripe_errors_translated():
                read = await self._billing.pause(subscription.id, behavior, resumes)
            await self._record(read)
        return await self.membership(session, key)

    async def cancel_now(
        self, session: AsyncSession, key: MembershipKey, *, refund: bool, by: str
    ) -> tuple[MembershipView, Refunded | None]:
        """End the membership's subscription now; with `refund`, give back the unused part of
        its last payment (refunded before the cancellation, once per subscription, so a retry
        after a failure between the two neither refunds twice nor leaves it running)."""
        subscription = await self._subscription(session, key)
        with stripe_errors_translated():
            read, refunded = await end_now(
                self._billing, subscription, refund=refund, now=self._clock(), by=by
            )
        await self._record(read)
        return await self.membership(session, key), refunded

    async def switch_preview(
        self, session: AsyncSession, key: MembershipKey, tier_id: str, *, segment: str | None
    ) -> SwitchPlan:
        """What switching the membership's subscription to `tier_id` costs now and next."""
        subscription, current, offer = await self._switch_target(session, key, tier_id, segment)
        assert offer.price is not None and offer.price.unit_amount is not None
        same = current.price_ids[0] == offer.price.id  # the tier it is on: nothing prorated
        behavior: ProrationBehavior = (
            "none" if same else await self._proration(session, key.group_id)
        )
        item_id = current.items.data[0].id
        with stripe_errors_translated():
            preview = await self._billing.preview_switch(
                current.id, item_id, offer.price.id, behavior
            )
        return switch_plan(
            tier_id,
            preview,
            price_id=offer.price.id,
            price_amount=offer.price.unit_amount,
            behavior=behavior,
            period_end=subscription.period_end,
        )

    async def switch(
        self, session: AsyncSession, key: MembershipKey, tier_id: str, *, segment: str | None
    ) -> tuple[MembershipView, Switched | None]:
        """Move the membership's subscription to `tier_id`'s price in place, prorated by the
        service's setting; the tier's metadata (credits per cycle) goes with it. Billed now,
        the change may wait for the member to confirm its payment (`Switched.client_secret`).
        Switching to the tier it is on changes nothing (and answers no Stripe change)."""
        _, current, offer = await self._switch_target(session, key, tier_id, segment)
        assert offer.price is not None
        if current.price_ids[0] != offer.price.id:
            room = await groups_repo.tier_room(session, tier_id, now=self._clock())
            if room is not None and room <= 0:
                raise TierFull(f"tier {tier_id} is full", code="tier_full")
        proration = await self._proration(session, key.group_id)
        await session.rollback()  # no transaction held open while Stripe answers
        if current.price_ids[0] != offer.price.id:
            metadata = {
                **current.metadata,
                "tier_id": tier_id,
                "credit_allowances": "",  # Stripe drops a key set empty: the old tier's go
                **offer.metadata,
            }
            with stripe_errors_translated():
                switched = await self._billing.switch(
                    current.id,
                    current.items.data[0].id,
                    offer.price.id,
                    proration,
                    metadata,
                )
            await self._record(switched.read)
            return await self.membership(session, key), switched
        return await self.membership(session, key), None

    async def _policy(self, session: AsyncSession, group_id: str) -> GroupPolicy:
        """The group's policy (checkout's group settings), else the service's defaults."""
        return self._settings.policy(await groups_repo.policy(session, group_id))

    async def _proration(self, session: AsyncSession, group_id: str) -> ProrationBehavior:
        return (await self._policy(session, group_id)).proration_behavior

    async def _switch_target(
        self, session: AsyncSession, key: MembershipKey, tier_id: str, segment: str | None
    ) -> tuple[SubscriptionRecord, Subscription, TierOffer]:
        subscription = await self._subscription(session, key)
        with stripe_errors_translated():
            offer = await self._billing.tier_offer(tier_id, segment)
        if offer is None:
            raise TierNotFound(f"no tier {tier_id} is sold")
        if offer.group_id != key.group_id:
            raise ForeignTier(f"tier {tier_id} is not a tier of {key.group_id}")
        if not offer.active or offer.price is None:
            raise TierNotSwitchable(
                f"tier {tier_id} is not on sale as a subscription: buy it through checkout"
            )
        with stripe_errors_translated():
            current = (await self._billing.subscription(subscription.id)).subscription
        if len(current.items.data) != 1 or current.items.data[0].price is None:
            raise TierNotSwitchable(f"{subscription.id} does not bill one price to switch")
        interval = (offer.price.recurring or {}).get("interval")
        billed = (current.items.data[0].price.recurring or {}).get("interval")
        if interval != billed:
            raise TierNotSwitchable(
                f"tier {tier_id} bills every {interval}, not every {billed}: "
                "buy it through checkout"
            )
        return subscription, current, offer

    async def _record(self, read: Read) -> None:
        """Record Stripe's answer as a fresh read, in a transaction of its own."""
        async with self._units() as uow:
            await self._recorder.apply(
                uow, read.subscription, Request.answered(read), read_at=read.at
            )
            await uow.commit()
