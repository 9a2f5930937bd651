"""A failed invoice in the shape of API versions before `2025-03-31.basil` (Stripe's own example
of that version, the subscription's metadata in its `subscription_details`) is mailed naming its
group, like a current one."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tollgate_shared.testing import (
    PRE_BASIL_API_VERSION,
    publish_stripe_event,
    stripe_event,
    unique,
)

LEGACY_INVOICE = (
    Path(__file__).parents[3] / "shared/tests/fixtures/stripe/legacy_2025-01-27.acacia/invoice.json"
)


async def test_a_pre_basil_failed_invoice_is_mailed_naming_its_group(service: Any) -> None:
    user, group = unique("usr"), unique("grp")
    member = f"{unique('member')}@example.com"
    await service.set_contacts(group, f"{unique('org')}@example.com", name="Chess club")
    invoice = json.loads(LEGACY_INVOICE.read_text()) | {
        "id": unique("in"),
        "status": "open",
        "amount_due": 1250,
        "currency": "usd",
        "attempt_count": 1,
        "next_payment_attempt": int(time.time()) + 3 * 86400,  # the example's is in 2009
        "customer_email": member,
        "subscription": unique("sub"),
        "subscription_details": {
            "metadata": {"user_id": user, "group_id": group, "tier_id": "tier_gold"}
        },
    }
    event = stripe_event("invoice.payment_failed", invoice, api_version=PRE_BASIL_API_VERSION)
    await publish_stripe_event(service.js, event)

    [mail] = await service.wait_for_mail(member, 1)
    assert mail["subject"] == "Your payment of $12.50 to Chess club failed"
    assert f"group_id={group}" in mail["text"]
    [sent] = await service.notifications(recipient=member)
    assert (sent["kind"], sent["group_id"], sent["user_id"]) == ("payment_failed", group, user)
