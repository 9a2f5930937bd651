"""Stripe and domain events as tests make them: envelopes, invoices in the shape of an older API
version, and publishing them as the webhook gateway and the outbox relays do."""

from __future__ import annotations

import json
import time
from typing import Any

from nats.js import JetStreamContext

from tollgate_shared.contracts.base import DomainEvent
from tollgate_shared.infra.stripe_client import API_VERSION
from tollgate_shared.messaging.publish import publish_with_ack
from tollgate_shared.messaging.streams import DOMAIN, STRIPE
from tollgate_shared.testing.core import unique


def stripe_event(event_type: str, obj: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A Stripe event envelope around `obj` with a fresh id; `fields` override the envelope's."""
    return {
        "id": unique("evt"),
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "livemode": False,
        "api_version": API_VERSION,
        "data": {"object": obj},
    } | fields


PRE_BASIL_API_VERSION = "2025-01-27.acacia"
"""The last Stripe API version before `2025-03-31.basil` moved invoice fields into `parent`."""


_BASIL_INVOICE_FIELDS = frozenset(
    {"parent", "payments", "amount_overpaid", "customer_account", "total_taxes"}
)


_BASIL_LINE_FIELDS = frozenset({"parent", "pricing", "quantity_decimal", "subtotal", "taxes"})


def pre_basil_invoice(
    invoice: dict[str, Any], *, payment_intent: str | None = None, charge: str | None = None
) -> dict[str, Any]:
    """`invoice` (current API shape) as webhook endpoints on `PRE_BASIL_API_VERSION` get it:
    the subscription, its metadata, the paying intent and charge on the invoice itself
    (`subscription`, `subscription_details`, `payment_intent`, `charge`, `paid`) instead of
    in `parent` and the invoice payments; each line's subscription and price on the line."""
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    lines = invoice.get("lines") or {"data": []}
    old = {k: v for k, v in invoice.items() if k not in _BASIL_INVOICE_FIELDS}
    return old | {
        "subscription": details.get("subscription"),
        "subscription_details": {"metadata": details.get("metadata")},
        "payment_intent": payment_intent,
        "charge": charge,
        "paid": invoice.get("status") == "paid",
        "lines": lines | {"data": [_pre_basil_line(line) for line in lines["data"]]},
    }


def _pre_basil_line(line: dict[str, Any]) -> dict[str, Any]:
    item = (line.get("parent") or {}).get("subscription_item_details") or {}
    price = (line.get("pricing") or {}).get("price_details") or {}
    old = {k: v for k, v in line.items() if k not in _BASIL_LINE_FIELDS}
    return old | {
        "subscription": item.get("subscription") or line.get("subscription"),
        "proration": bool(item.get("proration")),
        "type": "subscription" if item else "invoiceitem",
        "price": {"id": price["price"], "object": "price"} if price.get("price") else None,
    }


async def publish_stripe_event(
    js: JetStreamContext, event: dict[str, Any], *, msg_id: str | None = None
) -> None:
    """Store a Stripe event on STRIPE as the webhook gateway does (`stripe.<type>`, Msg-Id =
    event id); another `msg_id` makes a redelivery that JetStream and the inboxes have not seen."""
    await publish_with_ack(
        js,
        f"stripe.{event['type']}",
        json.dumps(event).encode(),
        msg_id=msg_id or event["id"],
        stream=STRIPE.name,
    )


async def publish_domain_event(
    js: JetStreamContext, event: DomainEvent, *, msg_id: str | None = None
) -> None:
    """Publish a domain event on DOMAIN as its producer's outbox relay does (Msg-Id = event id);
    another `msg_id` makes a redelivery that JetStream and the inboxes have not seen."""
    await publish_with_ack(
        js,
        event.subject,
        event.model_dump_json().encode(),
        msg_id=msg_id or event.id,
        stream=DOMAIN.name,
    )
