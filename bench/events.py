"""Realistic events for each consumer, shaped like Stripe's and Tollgate's own."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from tollgate_shared.contracts.ledger import PaymentRecorded
from tollgate_shared.contracts.membership import MembershipActivated
from tollgate_shared.testing import stripe_event


def envelope(event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
    """A Stripe event around `obj`, as Stripe delivers it."""
    return stripe_event(
        event_type, obj, pending_webhooks=1, request={"id": None, "idempotency_key": None}
    )


def subscription_created(user_id: str, group_id: str) -> dict[str, Any]:
    """An active monthly membership subscription (applied without calling Stripe)."""
    now = int(time.time())
    return envelope(
        "customer.subscription.created",
        {
            "id": f"sub_{uuid.uuid4().hex[:24]}",
            "object": "subscription",
            "status": "active",
            "customer": None,
            "created": now,
            "start_date": now,
            "cancel_at_period_end": False,
            "metadata": {
                "purpose": "membership",
                "user_id": user_id,
                "group_id": group_id,
                "tier_id": "tier_bench",
                "tier_interval": "month",
            },
            "items": {
                "object": "list",
                "data": [
                    {
                        "id": f"si_{uuid.uuid4().hex[:14]}",
                        "object": "subscription_item",
                        "current_period_start": now,
                        "current_period_end": now + 30 * 86400,
                        "price": {
                            "id": "price_bench",
                            "object": "price",
                            "unit_amount": 1500,
                            "currency": "nzd",
                            "recurring": {"interval": "month"},
                        },
                        "quantity": 1,
                    }
                ],
            },
        },
    )


def charge_succeeded(user_id: str, group_id: str) -> dict[str, Any]:
    """A succeeded charge with its balance transaction (fee) expanded and group metadata."""
    amount = 1500
    fee = round(amount * 0.029) + 30
    return envelope(
        "charge.succeeded",
        {
            "id": f"ch_{uuid.uuid4().hex[:24]}",
            "object": "charge",
            "amount": amount,
            "amount_captured": amount,
            "amount_refunded": 0,
            "currency": "nzd",
            "status": "succeeded",
            "paid": True,
            "created": int(time.time()),
            "customer": None,
            "payment_intent": f"pi_{uuid.uuid4().hex[:24]}",
            "balance_transaction": {
                "id": f"txn_{uuid.uuid4().hex[:24]}",
                "object": "balance_transaction",
                "amount": amount,
                "fee": fee,
                "net": amount - fee,
                "currency": "nzd",
                "type": "charge",
            },
            "metadata": {
                "purpose": "purchase",
                "user_id": user_id,
                "group_id": group_id,
                "reference": f"ref_{uuid.uuid4().hex[:8]}",
            },
            "billing_details": {"email": f"{user_id}@example.com"},
        },
    )


def membership_activated(user_id: str, group_id: str) -> MembershipActivated:
    """What membership announces when a member joins (checkout counts seats from it)."""
    return MembershipActivated(
        user_id=user_id, group_id=group_id, tier_id="tier_bench", subscription_id=f"sub_{user_id}"
    )


def payment_recorded(user_id: str, group_id: str) -> PaymentRecorded:
    """What the ledger announces per payment (notifications mails a receipt from it)."""
    return PaymentRecorded(
        group_id=group_id,
        user_id=user_id,
        amount=1500,
        currency="nzd",
        fee=74,
        charge_id=f"ch_{uuid.uuid4().hex[:24]}",
        email=f"{user_id}@example.com",
        description="Supporter membership",
    )


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()
