"""Stripe objects as synthetic events, so consumers apply imported state through the same
handlers and inboxes as webhooks.

Each object becomes the event(s) Stripe would have sent for its current state: a paid invoice is
`invoice.paid`, a canceled subscription `customer.subscription.deleted`, a completed Checkout
Session `checkout.session.completed` (how one-time purchases are granted), a refunded charge both
`charge.succeeded` and `charge.refunded`; an open Checkout Session none.

A backfill's event id is a hash of the type and the object's full state, so importing an
unchanged object again is recognised as a duplicate (by JetStream within its window, by every
consumer's inbox after it) while a changed object is applied anew. A resync's id also covers
the time of the resync: it re-applies the state now.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from tollgate_shared.infra.stripe_client import API_VERSION

StripeJson = dict[str, Any]

CHECKOUT_EVENTS = {"complete": "checkout.session.completed", "expired": "checkout.session.expired"}
INVOICE_EVENTS = {
    "draft": "invoice.created",
    "open": "invoice.finalized",
    "paid": "invoice.paid",
    "uncollectible": "invoice.marked_uncollectible",
    "void": "invoice.voided",
}
CHARGE_EVENTS = {
    "succeeded": "charge.succeeded",
    "failed": "charge.failed",
    "pending": "charge.pending",
}


def event_types(obj: StripeJson) -> list[str]:
    """The event types that carry `obj`'s current state, in the order Stripe sends them."""
    kind = obj["object"]
    if kind == "customer":
        return ["customer.updated"]
    if kind == "subscription":
        ended = obj["status"] == "canceled"
        return ["customer.subscription.deleted" if ended else "customer.subscription.updated"]
    if kind == "checkout.session":
        return [CHECKOUT_EVENTS[obj["status"]]] if obj["status"] in CHECKOUT_EVENTS else []
    if kind == "invoice":
        if obj["status"] == "open" and obj.get("attempt_count", 0) > 0:
            return ["invoice.payment_failed"]
        return [INVOICE_EVENTS[obj["status"]]]
    if kind == "charge":
        types = [CHARGE_EVENTS[obj["status"]]]
        if obj.get("amount_refunded", 0) > 0:
            types.append("charge.refunded")
        return types
    raise ValueError(f"no synthetic events for a {kind!r}")


def backfill_events(obj: StripeJson, *, now: int | None = None) -> list[StripeJson]:
    """`obj`'s events with ids derived from its type and state (`evt_backfill_…`)."""
    state = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    return [
        envelope(_event_id("backfill", event_type, state), event_type, obj, now)
        for event_type in event_types(obj)
    ]


def resync_events(obj: StripeJson, *, now: int | None = None) -> list[StripeJson]:
    """`obj`'s events with ids derived from its id and the resync's time (`evt_resync_…`)."""
    at = str(time.time_ns())
    return [
        envelope(_event_id("resync", event_type, obj["id"], at), event_type, obj, now)
        for event_type in event_types(obj)
    ]


def envelope(event_id: str, event_type: str, obj: StripeJson, now: int | None) -> StripeJson:
    """A Stripe event around `obj`, created now (it carries the object's state as of now)."""
    return {
        "id": event_id,
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()) if now is None else now,
        "livemode": bool(obj.get("livemode", False)),
        "pending_webhooks": 0,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
        "data": {"object": obj},
    }


def _event_id(source: str, *parts: str) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
    return f"evt_{source}_{digest}"
