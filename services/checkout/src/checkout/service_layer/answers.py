"""What a checkout request answers: a Checkout Session's URL, or for the app's own card form
the client secret Stripe.js confirms with (never stored: read from Stripe when replayed)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from checkout.adapters.payments import Started
from checkout.domain.checkout import CheckoutRecord
from checkout.service_layer.context import Context


async def answer(ctx: Context, record: CheckoutRecord) -> dict[str, Any]:
    """The answer to a request with the key of an existing checkout: a session's as it was;
    a card-form checkout's with its client secret from Stripe (never stored) and its status
    now."""
    if record.kind == "session":
        return record.response()
    return card_form_answer(record, await ctx.payments.retrieve_started(record))


def card_form_answer(record: CheckoutRecord, started: Started) -> dict[str, Any]:
    """A card-form checkout's answer: what Stripe.js needs to confirm it, and its status."""
    if record.kind == "subscription":
        trial_end = started.trial_end
        return {
            "subscription_id": started.id,
            "client_secret": started.client_secret,
            "intent_type": started.intent_type,
            "status": started.status,
            "trial_end": None if trial_end is None else datetime.fromtimestamp(trial_end, UTC),
        }
    return {
        "payment_intent_id": started.id,
        "client_secret": started.client_secret,
        "amount": started.amount,
        "currency": started.currency,
        "status": started.status,
        "next_action": started.next_action,
    }
