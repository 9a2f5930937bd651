"""Starting a checkout: server-chosen price, idempotency, seat holds, one payable checkout.

The same steps for a Checkout Session and for the app's own card form (a subscription or a
PaymentIntent the browser pays with its client secret): only what is created at Stripe, and
how it answers, differ by kind.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg.errors import UniqueViolation
from sqlalchemy.exc import IntegrityError

from checkout.adapters.payments import Started
from checkout.domain.catalog import Item, PriceSpec, Tier
from checkout.domain.checkout import (
    INCOMPLETE_WINDOW,
    SUBSCRIPTION_OUTCOME,
    CheckoutRecord,
    CheckoutRequest,
    Member,
    admit,
    admit_purchase,
    billing_starts,
    check_redirect,
    invoice_description,
    paid_through,
    session_metadata,
    superseded,
    switch_from,
    trial_for,
)
from checkout.domain.coupons import Coupon
from checkout.domain.errors import (
    Conflict,
    IdempotencyKeyReused,
    Invalid,
)
from checkout.service_layer import answers, catalog, coupons, customers, handlers, withdrawals
from checkout.service_layer.context import Context, now
from checkout.service_layer.unit_of_work import CheckoutUnitOfWork
from tollgate_shared.web.auth import Principal

PENDING_WAIT_SECONDS = 20.0
ATTEMPTS = 3
RECLAIMED_AT_ONCE = 50
"""How many lapsed holds of an item one attempt ends at Stripe before counting what is held."""


class _Superseded(Exception):
    """The caller has earlier open checkouts for the same thing: end them, then retry."""

    def __init__(self, records: list[CheckoutRecord]) -> None:
        super().__init__(f"{len(records)} earlier sessions")
        self.records = records


class _Lapsed(_Superseded):
    """Checkouts of the item whose hold lapsed but which may still be payable at Stripe: end
    them, then count again."""


@dataclass(frozen=True)
class Plan:
    """What a checkout will sell, decided on the server before a seat is reserved."""

    group_id: str
    tier: Tier | None
    item: Item | None
    spec: PriceSpec
    price_id: str
    coupon: Coupon | None
    customer_id: str
    previous_subscription_id: str | None
    trial_days: int = 0
    """The free trial the subscription starts with: the tier's, for a first-time member."""
    billing_starts: datetime | None = None
    """When the subscription starts billing, for a member whose paid one-time term runs on."""


@dataclass(frozen=True)
class _Created:
    """What Stripe created for a reserved checkout."""

    stripe_id: str
    expires_at: datetime
    url: str | None = None
    started: Started | None = None
    """A card-form checkout's subscription or PaymentIntent."""


async def start_checkout(
    ctx: Context, principal: Principal, request: CheckoutRequest, header_key: str | None
) -> dict[str, Any]:
    """A checkout for the caller (a Checkout Session, or a subscription or PaymentIntent for
    the app's own card form), once per idempotency key, never beyond capacity."""
    ctx.require_payments()
    for url in (request.success_url, request.cancel_url):
        if url is not None:
            check_redirect(url, ctx.settings.allowed_origins)
    key = request.idempotency_key(header_key)
    for _ in range(ATTEMPTS):
        existing = await _previous(ctx, principal.user_id, key, request)
        if existing is not None:
            settled = await _settled(ctx, existing)
            if settled is not None:
                return await answers.answer(ctx, settled)
            continue
        plan = await _plan(ctx, principal, request)
        try:
            record = await _reserve(ctx, principal, request, key, plan)
        except IntegrityError as exc:
            if not isinstance(exc.orig, UniqueViolation):
                raise
            continue  # a concurrent request with the same key won: answer with its checkout
        except _Lapsed as lapsed:
            for record in lapsed.records:
                announce = record.user_id != principal.user_id
                await withdrawals.withdraw(ctx, record, announce=announce)
            continue
        except _Superseded as earlier:
            await _withdraw(ctx, earlier.records)
            continue
        return await _open(ctx, record, plan, request)
    raise Conflict("a request with this key is still in progress", code="request_in_progress")


async def _previous(
    ctx: Context, user_id: str, key: str, request: CheckoutRequest
) -> CheckoutRecord | None:
    """The checkout an earlier request with this key created, if it answers this one."""
    async with ctx.uow() as uow:
        record = await uow.checkouts.find_by_key(user_id, key)
        if record is None:
            return None
        if record.request_hash != request.fingerprint():
            raise IdempotencyKeyReused("this Idempotency-Key was used with a different request")
        if record.answers_retry(now()):
            return record
        await uow.checkouts.forget_key(record.id)
        await uow.commit()
    return None


async def _settled(ctx: Context, record: CheckoutRecord) -> CheckoutRecord | None:
    """Wait while a concurrent request creates the checkout; None if it gave up."""
    deadline = time.monotonic() + PENDING_WAIT_SECONDS
    current: CheckoutRecord | None = record
    while current is not None and current.status == "pending":
        if time.monotonic() > deadline:
            raise Conflict(
                "a request with this key is still in progress", code="request_in_progress"
            )
        await asyncio.sleep(0.05)
        async with ctx.uow() as uow:
            current = await uow.checkouts.get(record.id)
    return current


async def _plan(ctx: Context, principal: Principal, request: CheckoutRequest) -> Plan:
    if request.purpose == "purchase":
        return await _plan_purchase(ctx, principal, request)
    assert request.tier_id is not None
    tier = await catalog.load(ctx, Tier, request.tier_id)
    request.ensure_of_group(tier.group_id)
    tier.ensure_sellable()
    if request.kind == "subscription" and tier.mode != "subscription":
        raise Invalid(f"tier {tier.id} is paid once, not subscribed to", code="tier_not_recurring")
    async with ctx.uow() as uow:
        member = await _admit(uow, tier, principal.user_id)  # early answer when full
        paid = await uow.checkouts.paid_terms(principal.user_id, tier.group_id)
    term_end = paid_through(paid, ctx.settings.one_time_annual_term_days)
    starts = billing_starts(tier, member, term_end, now())
    spec = tier.price_for(principal.segment)
    coupon = None
    if request.promotion_code:
        coupon = await coupons.usable(
            ctx, request.promotion_code, tier, user_id=principal.user_id, amount=spec.amount
        )
    return Plan(
        group_id=tier.group_id,
        tier=tier,
        item=None,
        spec=spec,
        price_id=await catalog.current_price(ctx, Tier, tier, spec),
        coupon=coupon,
        customer_id=await customers.customer_for(ctx, principal),
        previous_subscription_id=switch_from(tier, member),
        trial_days=0 if starts else trial_for(tier, member),
        billing_starts=starts,
    )


async def _plan_purchase(ctx: Context, principal: Principal, request: CheckoutRequest) -> Plan:
    assert request.item_id is not None
    if request.promotion_code:
        raise Invalid("coupons apply to membership tiers only", code="coupon_not_applicable")
    item = await catalog.load(ctx, Item, request.item_id)
    request.ensure_of_group(item.group_id)
    item.ensure_sellable()
    if item.limited:
        async with ctx.uow() as uow:
            await _admit_purchase(uow, item, principal.user_id, request.reference)  # early answer
    (spec,) = item.price_specs()
    return Plan(
        group_id=item.group_id,
        tier=None,
        item=item,
        spec=spec,
        price_id=await catalog.current_price(ctx, Item, item, spec),
        coupon=None,
        customer_id=await customers.customer_for(ctx, principal),
        previous_subscription_id=None,
    )


async def _admit(uow: CheckoutUnitOfWork, tier: Tier, user_id: str) -> Member | None:
    member = await uow.checkouts.member(user_id, tier.group_id)
    taken = await uow.checkouts.seats_taken(tier.id, other_than=user_id)
    admit(tier, member, taken)
    return member


async def _admit_purchase(
    uow: CheckoutUnitOfWork, item: Item, user_id: str, reference: str | None
) -> None:
    assert reference is not None
    taken = item.slots and await uow.checkouts.slot_taken(item.id, reference, by_other_than=user_id)
    held = 0
    if item.capacity is not None:
        held = await uow.checkouts.purchases_held(item.id, other_than=(user_id, reference))
    admit_purchase(item, slot_taken=taken, held=held)


async def _reserve(
    ctx: Context, principal: Principal, request: CheckoutRequest, key: str, plan: Plan
) -> CheckoutRecord:
    """Record the pending checkout; for a tier, under its row lock, so seats are never oversold."""
    checkout_id = f"chk_{uuid.uuid4().hex[:24]}"
    ttl = timedelta(seconds=ctx.settings.checkout_session_ttl_seconds)
    limited = plan.item is not None and plan.item.limited
    expires_at = request.payable_until(now(), ttl, leased=limited)
    async with ctx.uow() as uow:
        if plan.tier is not None:
            await uow.catalog.get(Tier, plan.tier.id, lock=True)
            await _admit(uow, plan.tier, principal.user_id)
        elif limited:
            await _hold_item(uow, plan, principal.user_id, request.reference)
        else:
            await uow.checkouts.lock_target(
                f"purchase:{principal.user_id}:{request.item_id}:{request.reference}"
            )
        earlier = await uow.checkouts.holds_of(
            principal.user_id,
            tier_id=request.tier_id,
            item_id=request.item_id,
            reference=request.reference,
            other_than_key=key,
        )
        if superseded(earlier):
            raise _Superseded(earlier)
        await uow.checkouts.add(
            {
                "id": checkout_id,
                "user_id": principal.user_id,
                "group_id": plan.group_id,
                "purpose": request.purpose,
                "kind": request.kind,
                "email": principal.email,
                "tier_id": plan.tier.id if plan.tier else None,
                "item_id": plan.item.id if plan.item else None,
                "reference": request.reference,
                "idempotency_key": key,
                "request_hash": request.fingerprint(),
                "price_id": plan.price_id,
                "amount": plan.spec.amount,
                "currency": plan.spec.currency,
                "coupon_id": plan.coupon.id if plan.coupon else None,
                "expires_at": expires_at.replace(microsecond=0),
            },
        )
        record = await uow.checkouts.get(checkout_id)
        await uow.commit()
    assert record is not None
    return record


async def _hold_item(
    uow: CheckoutUnitOfWork, plan: Plan, user_id: str, reference: str | None
) -> None:
    """Under the item's row lock: end lapsed holds first (`_Lapsed`), then admit the caller,
    so an item's slots and capacity are never oversold."""
    assert plan.item is not None
    item = await uow.catalog.get(Item, plan.item.id, lock=True)
    assert item is not None
    only = reference if item.capacity is None else None  # a slot item: its reference only
    lapsed = await uow.checkouts.lapsed(item.id, reference=only, limit=RECLAIMED_AT_ONCE)
    if lapsed:
        raise _Lapsed(lapsed)
    await _admit_purchase(uow, item, user_id, reference)


async def _withdraw(ctx: Context, records: list[CheckoutRecord]) -> None:
    """End earlier unpaid checkouts at Stripe so only the newest can be paid."""
    for record in records:
        if not await withdrawals.withdraw(ctx, record, announce=False):
            raise Conflict("this is already paid or being paid", code="already_paid")


async def _open(
    ctx: Context, record: CheckoutRecord, plan: Plan, request: CheckoutRequest
) -> dict[str, Any]:
    """Create at Stripe what a reserved record sells; drop the record if Stripe refuses."""
    try:
        created = await _create(ctx, record, plan, request)
    except Exception:
        async with ctx.uow() as uow:
            await uow.checkouts.delete(record.id)
            await uow.commit()
        raise
    async with ctx.uow() as uow:
        await uow.checkouts.opened(
            record.id, stripe_id=created.stripe_id, url=created.url, expires_at=created.expires_at
        )
        opened = await uow.checkouts.get(record.id, lock=True)
        assert opened is not None
        started = created.started
        if started is not None and SUBSCRIPTION_OUTCOME.get(started.status) == "paid":
            await handlers.subscription_paid(uow, opened, causation_id=None)  # nothing was due
        await uow.commit()
    return opened.response() if started is None else answers.card_form_answer(opened, started)


async def _create(
    ctx: Context, record: CheckoutRecord, plan: Plan, request: CheckoutRequest
) -> _Created:
    settings = ctx.settings
    metadata = session_metadata(
        record,
        tier=plan.tier,
        previous_subscription_id=plan.previous_subscription_id,
        term_days=settings.one_time_annual_term_days,
    )
    promotion_code_id = plan.coupon.stripe_promotion_code_id if plan.coupon else None
    if record.kind == "subscription":
        started = await ctx.payments.create_subscription(
            record,
            metadata=metadata,
            customer_id=plan.customer_id,
            promotion_code_id=promotion_code_id,
            trial_days=plan.trial_days,
            trial_end=plan.billing_starts,
        )
        return _Created(started.id, _at(started.created) + INCOMPLETE_WINDOW, started=started)
    if record.kind == "payment_intent":
        assert plan.item is not None
        started = await ctx.payments.create_payment_intent(
            record, metadata=metadata, customer_id=plan.customer_id, description=plan.item.name
        )
        return _Created(started.id, record.expires_at, started=started)  # NEVER, or its lease
    session = await ctx.payments.create_checkout_session(
        record,
        mode=plan.tier.mode if plan.tier else "payment",
        metadata=metadata,
        customer_id=plan.customer_id,
        success_url=request.success_url or settings.success_url,
        cancel_url=request.cancel_url or settings.cancel_url,
        promotion_code_id=promotion_code_id,
        trial_days=plan.trial_days,
        trial_end=plan.billing_starts,
        description=invoice_description(
            record,
            tier=plan.tier,
            item_name=plan.item.name if plan.item else None,
            term_days=settings.one_time_annual_term_days,
        ),
    )
    return _Created(session.id, _at(session.expires_at), url=session.url)


def _at(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)
