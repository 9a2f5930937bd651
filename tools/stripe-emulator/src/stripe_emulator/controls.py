"""Test controls under `/_emulator` (JSON), mounted only in test mode."""

from collections import Counter
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from stripe_emulator.emulator import Emulator
from stripe_emulator.errors import invalid
from stripe_emulator.limits import Usage
from stripe_emulator.operations import checkout, intents, payments, subscriptions
from stripe_emulator.operations.endpoints import register_endpoint, register_startup_webhooks
from stripe_emulator.store import StripeObject
from stripe_emulator.webhooks import DeliveryMode

router = APIRouter(prefix="/_emulator", tags=["test controls"])
diagnostics = APIRouter(prefix="/_emulator", tags=["diagnostics"])
"""Read-only, mounted in every mode (benchmarks run the emulator without test controls)."""


def _emulator(request: Request) -> Emulator:
    emulator: Emulator = request.app.state.emulator
    return emulator


EmulatorDep = Annotated[Emulator, Depends(_emulator)]


class CompleteCheckout(BaseModel):
    card_number: str = "4242424242424242"
    email: str | None = None
    promotion_code: str | None = None


class Authenticate(BaseModel):
    outcome: Literal["succeed", "fail"]


class Advance(BaseModel):
    card_number: str | None = None
    on_failure: Literal["canceled", "unpaid"] = "canceled"


class OpenDispute(BaseModel):
    amount: int | None = None
    reason: str = "fraudulent"


class CloseDispute(BaseModel):
    outcome: Literal["won", "lost"]


class FraudWarning(BaseModel):
    fraud_type: str = "made_with_stolen_card"


class OpenReview(BaseModel):
    reason: Literal["rule", "manual"] = "rule"


class CloseReview(BaseModel):
    reason: Literal[payments.REVIEW_CLOSE_REASONS] = "approved"  # type: ignore[valid-type]


class NewEndpoint(BaseModel):
    url: str
    secret: str = Field(pattern=r"^whsec_")
    enabled_events: list[str] = ["*"]


class Delivery(BaseModel):
    mode: DeliveryMode = "normal"
    endpoint: str | None = None
    delay_seconds: float = 0.5
    window_seconds: float = 0.3


@router.post("/checkout/sessions/{session_id}/complete")
async def complete_checkout(
    emulator: EmulatorDep, session_id: str, body: CompleteCheckout
) -> dict[str, Any]:
    """Pay a Checkout Session with a test card, as the hosted page does."""
    with emulator.store.lock:
        session = emulator.store.find("checkout.session", session_id)
        result = checkout.complete(
            emulator,
            session,
            card_number=body.card_number,
            email=body.email,
            promotion_code=body.promotion_code,
        )
        error = None
        if result.decline is not None and result.payment is not None:
            error = result.decline.body(
                charge=result.payment.charge["id"] if result.payment.charge else None,
                payment_intent=result.payment.intent["id"],
            )
        pending = result.authentication
        outcome = "declined" if error else "requires_action" if pending else "paid"
        return {
            "outcome": outcome,
            "error": error,
            "payment_intent": pending["id"] if pending else None,
            "next_action": emulator.store.snapshot(pending["next_action"]) if pending else None,
            "session": emulator.store.snapshot(result.session),
        }


@router.post("/payment_intents/{intent_id}/authenticate")
async def authenticate_payment_intent(
    emulator: EmulatorDep, intent_id: str, body: Authenticate
) -> StripeObject:
    """Complete or fail the pending 3-D Secure challenge of a payment intent, as the
    cardholder would on the challenge page."""
    with emulator.store.lock:
        intent = emulator.store.find("payment_intent", intent_id)
        intents.authenticate(emulator, intent, succeeded=body.outcome == "succeed")
        return emulator.store.snapshot(intent)


@router.post("/subscriptions/{subscription_id}/advance")
async def advance_subscription(
    emulator: EmulatorDep, subscription_id: str, body: Advance
) -> StripeObject:
    """Bill the next period (or retry the open invoice when past_due); an incomplete
    subscription's 23 hours pass (it expires)."""
    with emulator.store.lock:
        subscription = emulator.store.find("subscription", subscription_id)
        return subscriptions.advance(
            emulator, subscription, card_number=body.card_number, on_failure=body.on_failure
        )


@router.post("/charges/{charge_id}/dispute")
async def open_dispute(emulator: EmulatorDep, charge_id: str, body: OpenDispute) -> StripeObject:
    """Open a dispute on a charge (funds withdrawn at once)."""
    with emulator.store.lock:
        charge = emulator.store.find("charge", charge_id)
        return payments.open_dispute(emulator, charge, amount=body.amount, reason=body.reason)


@router.post("/disputes/{dispute_id}/close")
async def close_dispute(emulator: EmulatorDep, dispute_id: str, body: CloseDispute) -> StripeObject:
    """Close a dispute as won (funds reinstated) or lost."""
    with emulator.store.lock:
        dispute = emulator.store.find("dispute", dispute_id)
        return payments.close_dispute(emulator, dispute, won=body.outcome == "won")


@router.post("/charges/{charge_id}/early_fraud_warning")
async def raise_early_fraud_warning(
    emulator: EmulatorDep, charge_id: str, body: FraudWarning
) -> StripeObject:
    """Raise a Radar early fraud warning on a charge."""
    with emulator.store.lock:
        charge = emulator.store.find("charge", charge_id)
        return payments.early_fraud_warning(emulator, charge, fraud_type=body.fraud_type)


@router.post("/charges/{charge_id}/review")
async def open_review(emulator: EmulatorDep, charge_id: str, body: OpenReview) -> StripeObject:
    """Open a Radar review on a charge."""
    with emulator.store.lock:
        charge = emulator.store.find("charge", charge_id)
        return payments.open_review(emulator, charge, reason=body.reason)


@router.post("/reviews/{review_id}/close")
async def close_review(emulator: EmulatorDep, review_id: str, body: CloseReview) -> StripeObject:
    """Close a Radar review with a reason."""
    with emulator.store.lock:
        review = emulator.store.find("review", review_id)
        return payments.close_review(emulator, review, reason=body.reason)


@router.post("/webhook_endpoints")
async def add_webhook_endpoint(emulator: EmulatorDep, body: NewEndpoint) -> StripeObject:
    """Register a webhook endpoint with a secret of your choosing."""
    with emulator.store.lock:
        endpoint = register_endpoint(
            emulator, url=body.url, enabled_events=body.enabled_events, secret=body.secret
        )
        return {**endpoint, "secret": body.secret}


@router.post("/delivery")
async def set_delivery(emulator: EmulatorDep, body: Delivery) -> list[dict[str, Any]]:
    """Set how events reach one endpoint (by id or url) or all of them."""
    with emulator.store.lock:
        chosen = [
            ep
            for ep in emulator.dispatcher.endpoints.values()
            if body.endpoint in (None, ep.id, ep.url)
        ]
        if not chosen:
            raise invalid(f"No webhook endpoint matches {body.endpoint!r}.", param="endpoint")
        for ep in chosen:
            ep.options.mode = body.mode
            ep.options.delay_seconds = body.delay_seconds
            ep.options.window_seconds = body.window_seconds
        return [{"endpoint": ep.id, "url": ep.url, "mode": ep.options.mode} for ep in chosen]


@router.get("/deliveries")
async def list_deliveries(
    emulator: EmulatorDep, event: str | None = None, endpoint: str | None = None
) -> list[dict[str, Any]]:
    """Every delivery attempt, oldest first."""
    return [
        d
        for d in list(emulator.dispatcher.deliveries)
        if event in (None, d["event"]) and endpoint in (None, d["endpoint"], d["url"])
    ]


@router.get("/events")
async def list_events(emulator: EmulatorDep, type: str | None = None) -> list[StripeObject]:
    """Every event, oldest first (the order they were created in)."""
    with emulator.store.lock:
        events = emulator.store.all("event")[::-1]
        return [e for e in events if type in (None, e["type"])]


@router.get("/requests")
async def request_counts(emulator: EmulatorDep, api_key: str | None = None) -> list[dict[str, Any]]:
    """How many requests each (method, path) received, replays included; those answered 429
    never reached the API and are counted by `/usage` only. With `api_key`, that key's `/v1`
    requests only."""
    with emulator.store.lock:
        store = emulator.store
        # `get`: asking about a key never seen must not add it (as `/usage` does).
        counts = (
            store.requests if api_key is None else store.requests_by_key.get(api_key, Counter())
        )
        return [
            {"method": method, "path": path, "count": count}
            for (method, path), count in sorted(counts.items())
        ]


@diagnostics.get("/usage")
async def usage(emulator: EmulatorDep, api_key: str | None = None) -> dict[str, Any]:
    """`/v1` requests answered since start (or reset), the rate-limited ones included, and the
    limits in force; with `api_key`, that key's only, and per endpoint."""
    limiter = emulator.limiter
    counts = limiter.usage if api_key is None else limiter.by_key.get(api_key, Usage())
    answer = {
        "rate_limits": limiter.mode,
        "requests": counts.requests,
        "rate_limited": counts.rate_limited,
    }
    if api_key is not None:
        answer["endpoints"] = dict(counts.endpoints)
        answer["endpoints_rate_limited"] = dict(counts.endpoints_rate_limited)
    return answer


class RateLimits(BaseModel):
    mode: Literal["off", "test", "live", "storm"]
    api_key: str | None = None
    """Switch this API key's (account's) limits only."""


@router.post("/rate_limits")
async def switch_rate_limits(emulator: EmulatorDep, body: RateLimits) -> dict[str, str]:
    """Enforce other rate limits from now on (usage counts carry on)."""
    emulator.limiter.switch(body.mode, body.api_key)
    return {"rate_limits": emulator.limiter.mode}


@router.post("/reset")
async def reset(emulator: EmulatorDep) -> dict[str, bool]:
    """Forget all state, then register the start-up webhook endpoints again."""
    await emulator.dispatcher.reset()
    with emulator.store.lock:
        emulator.store.clear()
        emulator.limiter.reset()
        register_startup_webhooks(emulator)
    return {"reset": True}
