"""Member routes: checkout sessions, purchase claims, in-app payments, the billing portal."""

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
    "/purchases/{session_id}/claim",
    response_model=ClaimOut,
    responses=error_responses(402, 404, 409),
)
async def claim_purchase(
    ctx: ContextDep, user: ClaimCaller, session_id: Id, body: ClaimIn | None = None
) -> ClaimOut:
    """Claim a paid purchase once: 402 unpaid, 403 not yours, 409 already claimed."""
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
    """A PaymentIntent for an app's own card form; the amount is the item's price."""
    answer = await purchases.create_payment_intent(
        ctx, user, body.item_id, body.reference, idempotency_key
    )
    return PaymentIntentOut(**answer)


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
