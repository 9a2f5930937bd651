"""Member commands: start a checkout, claim a purchase, pay in-app, open the billing portal."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg.errors import UniqueViolation
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from checkout.adapters import catalog_repo, sessions_repo
from checkout.domain.catalog import Item, PriceSpec, Tier
from checkout.domain.checkout import (
    CheckoutRecord,
    CheckoutRequest,
    Member,
    admit,
    can_move,
    check_redirect,
    session_metadata,
    superseded,
    switch_from,
)
from checkout.domain.coupons import Coupon
from checkout.domain.errors import (
    Conflict,
    IdempotencyKeyReused,
    Invalid,
    NotAllowed,
    NotFound,
    PaymentRequired,
)
from checkout.service_layer import catalog, coupons, handlers
from checkout.service_layer.context import Context, now
from tollgate_shared.auth import Principal
from tollgate_shared.db import transaction
from tollgate_shared.events.checkout import PurchaseClaimed
from tollgate_shared.stripe_client import idempotency_key

PENDING_WAIT_SECONDS = 20.0
ATTEMPTS = 3


class _Superseded(Exception):
    """The caller has earlier open sessions for the same thing: expire them, then retry."""

    def __init__(self, records: list[CheckoutRecord]) -> None:
        super().__init__(f"{len(records)} earlier sessions")
        self.records = records


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


async def start_checkout(
    ctx: Context, principal: Principal, request: CheckoutRequest, header_key: str | None
) -> dict[str, Any]:
    """A Checkout Session for the caller, once per idempotency key, never beyond capacity."""
    ctx.payments  # noqa: B018 -- answer 503 before anything else when Stripe is not configured
    for url in (request.success_url, request.cancel_url):
        if url is not None:
            check_redirect(url, ctx.settings.allowed_origins)
    key = request.idempotency_key(header_key)
    for _ in range(ATTEMPTS):
        existing = await _previous(ctx, principal.user_id, key, request)
        if existing is not None:
            settled = await _settled(ctx, existing)
            if settled is not None:
                return settled.response()
            continue
        plan = await _plan(ctx, principal, request)
        try:
            record = await _reserve(ctx, principal, request, key, plan)
        except IntegrityError as exc:
            if not isinstance(exc.orig, UniqueViolation):
                raise
            continue  # a concurrent request with the same key won: answer with its session
        except _Superseded as earlier:
            await _expire(ctx, earlier.records)
            continue
        return await _open(ctx, record, plan, request)
    raise Conflict("a request with this key is still in progress", code="request_in_progress")


async def _previous(
    ctx: Context, user_id: str, key: str, request: CheckoutRequest
) -> CheckoutRecord | None:
    """The session an earlier request with this key created, if it answers this one."""
    async with ctx.sessions() as session:
        record = await sessions_repo.find_by_key(session, user_id, key)
        if record is None:
            return None
        if record.request_hash != request.fingerprint():
            raise IdempotencyKeyReused("this Idempotency-Key was used with a different request")
        if record.answers_retry(now()):
            return record
        await sessions_repo.forget_key(session, record.id)
        await session.commit()
    return None


async def _settled(ctx: Context, record: CheckoutRecord) -> CheckoutRecord | None:
    """Wait while a concurrent request creates the session; None if it gave up."""
    deadline = time.monotonic() + PENDING_WAIT_SECONDS
    current: CheckoutRecord | None = record
    while current is not None and current.status == "pending":
        if time.monotonic() > deadline:
            raise Conflict(
                "a request with this key is still in progress", code="request_in_progress"
            )
        await asyncio.sleep(0.05)
        async with ctx.sessions() as session:
            current = await sessions_repo.get(session, record.id)
    return current


async def _plan(ctx: Context, principal: Principal, request: CheckoutRequest) -> Plan:
    if request.purpose == "purchase":
        return await _plan_purchase(ctx, principal, request)
    assert request.tier_id is not None
    tier = await catalog.load(ctx, Tier, request.tier_id)
    tier.ensure_sellable()
    async with ctx.sessions() as session:
        member = await _admit(session, tier, principal.user_id)  # early answer when full
    coupon = (
        await coupons.usable(ctx, request.promotion_code, tier) if request.promotion_code else None
    )
    spec = tier.price_for(principal.segment)
    return Plan(
        group_id=tier.group_id,
        tier=tier,
        item=None,
        spec=spec,
        price_id=await catalog.current_price(ctx, Tier, tier, spec),
        coupon=coupon,
        customer_id=await customer_for(ctx, principal),
        previous_subscription_id=switch_from(tier, member),
    )


async def _plan_purchase(ctx: Context, principal: Principal, request: CheckoutRequest) -> Plan:
    assert request.item_id is not None
    if request.promotion_code:
        raise Invalid("coupons apply to membership tiers only", code="coupon_not_applicable")
    item = await catalog.load(ctx, Item, request.item_id)
    item.ensure_sellable()
    (spec,) = item.price_specs()
    return Plan(
        group_id=item.group_id,
        tier=None,
        item=item,
        spec=spec,
        price_id=await catalog.current_price(ctx, Item, item, spec),
        coupon=None,
        customer_id=await customer_for(ctx, principal),
        previous_subscription_id=None,
    )


async def _admit(session: AsyncSession, tier: Tier, user_id: str) -> Member | None:
    member = await sessions_repo.member(session, user_id, tier.group_id)
    taken = await sessions_repo.seats_taken(session, tier.id, other_than=user_id)
    admit(tier, member, taken)
    return member


async def _reserve(
    ctx: Context, principal: Principal, request: CheckoutRequest, key: str, plan: Plan
) -> CheckoutRecord:
    """Record the pending session; for a tier, under its row lock, so seats are never oversold."""
    checkout_id = f"chk_{uuid.uuid4().hex[:24]}"
    expires_at = now() + timedelta(seconds=ctx.settings.checkout_session_ttl_seconds)
    async with transaction(ctx.sessions) as session:
        if plan.tier is not None:
            await catalog_repo.get(session, Tier, plan.tier.id, lock=True)
            await _admit(session, plan.tier, principal.user_id)
        else:
            await sessions_repo.lock_target(
                session, f"purchase:{principal.user_id}:{request.item_id}:{request.reference}"
            )
        earlier = await sessions_repo.holds_of(
            session,
            principal.user_id,
            tier_id=request.tier_id,
            item_id=request.item_id,
            reference=request.reference,
            other_than_key=key,
        )
        if superseded(earlier):
            raise _Superseded(earlier)
        await sessions_repo.add(
            session,
            {
                "id": checkout_id,
                "user_id": principal.user_id,
                "group_id": plan.group_id,
                "purpose": request.purpose,
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
        record = await sessions_repo.get(session, checkout_id)
    assert record is not None
    return record


async def _expire(ctx: Context, records: list[CheckoutRecord]) -> None:
    """Expire earlier unpaid sessions at Stripe so only the newest can be paid."""
    for record in records:
        if record.stripe_session_id is None:
            continue
        if await ctx.payments.expire_session(record.stripe_session_id) == "complete":
            raise Conflict("this is already paid or being paid", code="already_paid")
        async with transaction(ctx.sessions) as session:
            current = await sessions_repo.get(session, record.id, lock=True)
            if current is not None and can_move(current.status, "expired"):
                await sessions_repo.move(session, record.id, "expired", release=True)


async def _open(
    ctx: Context, record: CheckoutRecord, plan: Plan, request: CheckoutRequest
) -> dict[str, Any]:
    """Create the Stripe session for a reserved record; drop the record if Stripe refuses."""
    settings = ctx.settings
    metadata = session_metadata(
        record,
        tier=plan.tier,
        previous_subscription_id=plan.previous_subscription_id,
        term_days=settings.purchase_term_days,
    )
    try:
        created = await ctx.payments.create_checkout_session(
            record,
            mode=plan.tier.mode if plan.tier else "payment",
            metadata=metadata,
            customer_id=plan.customer_id,
            success_url=request.success_url or settings.success_url,
            cancel_url=request.cancel_url or settings.cancel_url,
            promotion_code_id=plan.coupon.stripe_promotion_code_id if plan.coupon else None,
        )
    except Exception:
        async with transaction(ctx.sessions) as session:
            await sessions_repo.delete(session, record.id)
        raise
    async with transaction(ctx.sessions) as session:
        await sessions_repo.opened(
            session,
            record.id,
            stripe_session_id=created.id,
            url=created.url,
            expires_at=datetime.fromtimestamp(created.expires_at, UTC),
        )
        opened = await sessions_repo.get(session, record.id)
    assert opened is not None
    return opened.response()


async def customer_for(ctx: Context, principal: Principal) -> str:
    """The caller's Stripe customer, created once."""
    async with ctx.sessions() as session:
        known = await sessions_repo.customer_id(session, principal.user_id)
    if known is not None:
        return known
    created = await ctx.payments.create_customer(principal.user_id, principal.email)
    async with transaction(ctx.sessions) as session:
        await sessions_repo.save_customer(session, principal.user_id, created)
        saved = await sessions_repo.customer_id(session, principal.user_id)
    return saved or created


async def claim_purchase(
    ctx: Context, principal: Principal, stripe_session_id: str, reference: str | None
) -> dict[str, Any]:
    """Hand a paid purchase to the buyer's app exactly once, as Stripe confirms it."""
    stripe = ctx.payments
    async with ctx.sessions() as session:
        record = await sessions_repo.get_by_stripe_id(session, stripe_session_id)
    if record is None or record.purpose != "purchase":
        raise NotFound(f"no purchase with session {stripe_session_id}")
    record.ensure_claimable_by(principal.user_id, reference)
    live = await stripe.retrieve_session(stripe_session_id)
    if live.client_reference_id != principal.user_id:
        raise NotAllowed("this purchase belongs to another user")
    if live.payment_status != "paid":
        raise PaymentRequired("the purchase is not paid yet")
    async with transaction(ctx.sessions) as session:
        locked = await sessions_repo.get(session, record.id, lock=True)
        assert locked is not None
        await handlers.record_paid(session, locked, live, causation_id=None)
        if not await sessions_repo.claim(session, record.id):
            raise Conflict("this purchase was already claimed", code="already_claimed")
        await handlers.emit(
            session,
            PurchaseClaimed(
                id=handlers.event_id("checkout.purchase_claimed", stripe_session_id),
                **handlers.purchase_fields(locked, live),
            ),
        )
    return {
        "session_id": stripe_session_id,
        "reference": record.reference,
        "item_id": record.item_id,
        "amount": live.amount_total,
        "currency": live.currency,
        "claimed": True,
    }


async def create_payment_intent(
    ctx: Context, principal: Principal, item_id: str, reference: str, header_key: str | None
) -> dict[str, Any]:
    """A PaymentIntent for an app's own card form, at the item's price (once per request)."""
    stripe = ctx.payments
    item = await catalog.load(ctx, Item, item_id)
    item.ensure_sellable()
    metadata = {
        "user_id": principal.user_id,
        "group_id": item.group_id,
        "purpose": "purchase",
        "item_id": item.id,
        "reference": reference,
    }
    params = {
        "amount": item.amount,
        "currency": item.currency,
        "customer": await customer_for(ctx, principal),
        "description": item.name,
        "metadata": metadata,
        "automatic_payment_methods": {"enabled": True},
    }
    key = idempotency_key(
        "payment-intent", principal.user_id, item.id, str(item.version), reference, header_key or ""
    )
    intent = await stripe.create_payment_intent(params, key)
    return {
        "payment_intent_id": intent.id,
        "client_secret": intent.client_secret,
        "amount": intent.amount,
        "currency": intent.currency,
    }


async def billing_portal(
    ctx: Context, principal: Principal, return_url: str | None
) -> dict[str, str]:
    """A Stripe billing portal session for the caller's own customer."""
    stripe = ctx.payments
    url = check_redirect(return_url or ctx.settings.portal_return_url, ctx.settings.allowed_origins)
    async with ctx.sessions() as session:
        customer = await sessions_repo.customer_id(session, principal.user_id)
    if customer is None:
        raise NotFound("you have no billing account yet", code="no_billing_account")
    return {"url": await stripe.portal_url(customer, url)}
