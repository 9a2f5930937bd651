"""Member routes: checkout sessions, the app's own card form (subscriptions and payment
intents), purchase claims, the billing portal."""

from __future__ import annotations

from fastapi import APIRouter

from checkout.entrypoints.dependencies import (
    CheckoutCaller,
    ClaimCaller,
    ContextDep,
    IdempotencyKey,
)
from checkout.entrypoints.schemas import (
    CheckoutIn,
    CheckoutOut,
    ClaimIn,
    ClaimOut,
    PaymentIntentIn,
    PaymentIntentOut,
    PortalIn,
    PortalOut,
    SubscriptionIn,
    SubscriptionOut,
)
from checkout.service_layer import checkout, customers, purchases
from tollgate_shared.web.auth import CurrentUser
from tollgate_shared.web.errors import error_responses
from tollgate_shared.web.validation import ShortId as Id

router = APIRouter(tags=["checkout"])


@router.post(
    "/checkout/sessions",
    response_model=CheckoutOut,
    status_code=201,
    responses=error_responses(404, 409, 502),
)
async def create_checkout_session(
    ctx: ContextDep, user: CheckoutCaller, body: CheckoutIn, idempotency_key: IdempotencyKey = None
) -> CheckoutOut:
    """Start a Stripe Checkout for a tier or an item, at the price the server chooses."""
    answer = await checkout.start_checkout(ctx, user, body.to_request(), idempotency_key)
    return CheckoutOut.model_validate(answer)


@router.post(
    "/checkout/subscriptions",
    response_model=SubscriptionOut,
    status_code=201,
    responses=error_responses(404, 409, 502),
)
async def create_subscription(
    ctx: ContextDep,
    user: CheckoutCaller,
    body: SubscriptionIn,
    idempotency_key: IdempotencyKey = None,
) -> SubscriptionOut:
    """Start a membership paid in the app's own card form (Stripe Elements): an `incomplete`
    subscription at the tier's price whose first invoice the browser pays with
    `client_secret`, or, with the tier's free trial, a `trialing` one whose card the browser
    saves for the trial's end (`intent_type: setup`); access follows Stripe's events, never
    this answer."""
    answer = await checkout.start_checkout(ctx, user, body.to_request(), idempotency_key)
    return SubscriptionOut.model_validate(answer)


@router.post(
    "/purchases/{session_id}/claim",
    response_model=ClaimOut,
    responses=error_responses(402, 404, 409),
)
async def claim_purchase(
    ctx: ContextDep, user: ClaimCaller, session_id: Id, body: ClaimIn | None = None
) -> ClaimOut:
    """Claim a paid purchase once, by its Checkout Session or (card form) PaymentIntent id:
    402 unpaid, 403 not yours, 409 already claimed."""
    reference = body.reference if body else None
    return ClaimOut(**await purchases.claim_purchase(ctx, user, session_id, reference))


@router.post(
    "/purchases/payment-intents",
    response_model=PaymentIntentOut,
    status_code=201,
    responses=error_responses(404, 409, 502),
)
async def create_payment_intent(
    ctx: ContextDep,
    user: CheckoutCaller,
    body: PaymentIntentIn,
    idempotency_key: IdempotencyKey = None,
) -> PaymentIntentOut:
    """A purchase paid in the app's own card form: a PaymentIntent at the item's price, tracked
    and claimable (by its id) like a Checkout purchase once Stripe confirms it."""
    answer = await checkout.start_checkout(ctx, user, body.to_request(), idempotency_key)
    return PaymentIntentOut.model_validate(answer)


@router.post(
    "/billing-portal/sessions",
    response_model=PortalOut,
    status_code=201,
    responses=error_responses(404, 502),
)
async def create_portal_session(
    ctx: ContextDep, user: CurrentUser, body: PortalIn | None = None
) -> PortalOut:
    """A Stripe billing portal session for the caller's own customer."""
    return PortalOut(**await customers.billing_portal(ctx, user, body.return_url if body else None))
