"""Every kind of notification, from the event that causes it to the mailbox, in a zero-decimal
and a two-decimal currency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tollgate_shared.contracts.checkout import (
    CatalogEntryChanged,
    GroupSettingsChanged,
    PurchasePaid,
)
from tollgate_shared.contracts.ledger import (
    DisputeClosed,
    DisputeOpened,
    PaymentRecorded,
    PayoutFailed,
    RefundRecorded,
)
from tollgate_shared.contracts.membership import (
    MembershipActivated,
    MembershipExpired,
    MembershipPastDue,
    MembershipRenewed,
)
from tollgate_shared.testing import unique, wait_until

MEMBER_KINDS = {
    "payment_receipt",
    "refund_confirmation",
    "payment_failed",
    "access_at_risk",
    "membership_ended",
    "renewal_reminder",
    "purchase_failed",
    "trial_ending",
}
ORGANIZER_KINDS = {
    "new_member",
    "renewal_notice",
    "dispute_alert",
    "dispute_outcome",
    "sale_notice",
    "refund_notice",
    "payout_outcome",
}
MONEY_KINDS = {
    "payment_receipt",
    "refund_confirmation",
    "payment_failed",
    "dispute_alert",
    "dispute_outcome",
    "purchase_failed",
    "sale_notice",
    "trial_ending",
    "new_member",
    "renewal_notice",
    "refund_notice",
    "payout_outcome",
}
NAMING_KINDS = {
    "payment_receipt",
    "membership_ended",
    "new_member",
    "renewal_notice",
    "sale_notice",
    "trial_ending",
}
"""Kinds that name the tier or item (by checkout's name, never its id)."""
CASES = [("jpy", 1500, "¥1,500"), ("usd", 1250, "$12.50")]


async def _publish_every_cause(
    service: Any, invoice: dict[str, Any], *, currency: str, amount: int
) -> tuple[str, str, str]:
    user, group, tier, item = unique("usr"), unique("grp"), unique("tier"), unique("item")
    member, organizer = f"{unique('member')}@example.com", f"{unique('org')}@example.com"
    name = f"Chess club {currency}"
    await service.publish(
        GroupSettingsChanged(group_id=group, revision=1, name=name, contact_email=organizer)
    )
    entry = {"amount": amount, "currency": currency, "active": True, "group_id": group}
    await service.publish(
        CatalogEntryChanged(**entry, revision=1, entry_kind="tier", entry_id=tier, name="Gold")
    )
    await service.publish(
        CatalogEntryChanged(**entry, revision=1, entry_kind="item", entry_id=item, name="Seat")
    )
    await service.applied()  # checkout announces its catalog before anything is sold
    now = datetime.now(UTC)
    who = {"user_id": user, "group_id": group, "tier_id": tier, "email": member}
    sub = {**who, "subscription_id": unique("sub"), "expires_at": now + timedelta(days=30)}
    money = {**who, "amount": amount, "currency": currency, "charge_id": unique("ch")}
    for event in (
        MembershipActivated(**who, source="one_time", expires_at=now + timedelta(days=5)),
        MembershipRenewed(**sub),
        MembershipPastDue(**sub, grace_until=now + timedelta(days=7)),
        MembershipExpired(**sub, reason="payment_failed"),
        PaymentRecorded(
            **money,
            invoice_id=unique("in"),
            receipt_url="https://r.example/1",
            period_start=datetime(2026, 3, 1, tzinfo=UTC),
            period_end=datetime(2026, 4, 1, tzinfo=UTC),
        ),
        RefundRecorded(**money, refund_id=unique("re")),
        DisputeOpened(**money, dispute_id=unique("dp"), reason="fraudulent"),
        DisputeClosed(**money, dispute_id=unique("dp"), status="lost"),
        PayoutFailed(
            group_id=group,
            amount=amount,
            currency=currency,
            payout_id=unique("payreq"),
            reason="The account cannot receive transfers.",
        ),
        PurchasePaid(
            **{k: v for k, v in money.items() if k not in ("tier_id", "charge_id")},
            session_id=unique("pi"),
            item_id=item,
            reference=unique("booking"),
        ),
    ):
        await service.publish(event)
    failed_invoice = {
        **invoice,
        "id": unique("in"),
        "amount_due": amount,
        "currency": currency,
        "attempt_count": 1,
        "next_payment_attempt": int((now + timedelta(days=3)).timestamp()),
        "customer_email": member,
        "parent": {
            "type": "subscription_details",
            "subscription_details": {
                "subscription": sub["subscription_id"],
                "metadata": {"user_id": user, "group_id": group, "tier_id": tier},
            },
        },
    }
    await service.publish_stripe("invoice.payment_failed", failed_invoice)
    failed_intent = {
        "id": unique("pi"),
        "object": "payment_intent",
        "amount": amount,
        "currency": currency,
        "status": "requires_payment_method",
        "receipt_email": member,
        "metadata": {"user_id": user, "group_id": group, "purpose": "purchase"},
    }
    await service.publish_stripe("payment_intent.payment_failed", failed_intent)

    async def addressed() -> bool:  # a subscription carries no address: the member's is known
        return bool(await service.notifications(recipient=member, kind="access_at_risk"))

    await wait_until(addressed, message="the member's address learned")
    price = {"id": unique("price"), "unit_amount": amount, "currency": currency}
    trialing = {
        "id": sub["subscription_id"],
        "object": "subscription",
        "status": "trialing",
        "trial_end": int((now + timedelta(days=3)).timestamp()),
        "metadata": {"user_id": user, "group_id": group, "tier_id": tier},
        "items": {"data": [{"id": unique("si"), "price": price, "quantity": 1}]},
    }
    await service.publish_stripe("customer.subscription.trial_will_end", trialing)
    return group, member, organizer, tier


@pytest.mark.parametrize(("currency", "amount", "shown"), CASES)
async def test_every_kind_is_mailed_once_with_amounts_in_the_currency(
    service: Any, invoice_object: dict[str, Any], currency: str, amount: int, shown: str
) -> None:
    group, member, organizer, tier = await _publish_every_cause(
        service, invoice_object, currency=currency, amount=amount
    )
    inbox = {
        member: await service.wait_for_mail(member, len(MEMBER_KINDS)),
        organizer: await service.wait_for_mail(organizer, len(ORGANIZER_KINDS)),
    }
    for address, expected in ((member, MEMBER_KINDS), (organizer, ORGANIZER_KINDS)):
        records = await service.notifications(recipient=address)
        kind_of = {n["message_id"]: n["kind"] for n in records}
        assert {n["status"] for n in records} == {"sent"}
        mails = {kind_of[m["message_id"]]: m for m in inbox[address]}
        assert set(mails) == expected and len(inbox[address]) == len(expected)
        for kind, mail in mails.items():
            assert mail["text"].strip() and "<html" in mail["html"], kind
            assert f"Chess club {currency}" in mail["text"] + mail["html"], kind
            assert tier not in mail["text"] + mail["html"], (kind, mail["text"])
            if kind in NAMING_KINDS:
                named = "Seat" if kind == "sale_notice" else "Gold"
                assert named in mail["text"] and named in mail["html"], (kind, mail["text"])
            if kind in ORGANIZER_KINDS - {"payout_outcome"}:  # a payout is nobody's purchase
                assert member in mail["text"] and member in mail["html"], (kind, mail["text"])
            if kind == "payment_receipt":
                assert "Period:" in mail["text"] and "2026" in mail["text"], mail["text"]
            if kind == "membership_ended":
                assert "has expired" in mail["subject"], mail["subject"]
                assert "could not collect the payment" in mail["text"], mail["text"]
            if kind in MONEY_KINDS:
                assert shown in mail["subject"] + mail["text"], (kind, mail["text"])
                assert shown in mail["html"], (kind, mail["html"])
    assert f"group_id={group}" in inbox[member][0]["text"] + "".join(
        m["text"] for m in inbox[member]
    )


def _unaddressed(metrics_text: str) -> dict[str, float]:
    prefix = 'tollgate_notifications_unaddressed_total{kind="'
    return {
        line[len(prefix) :].split('"', 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in metrics_text.splitlines()
        if line.startswith(prefix)
    }


async def test_a_notification_without_a_known_address_is_counted_not_recorded(
    service: Any,
) -> None:
    """A member no event has given an address for, in a group without organizer contacts: no
    welcome to organizers, no warning to the member, nothing recorded, each counted by kind (a
    receipt waits for the address instead: `test_card_form.py`)."""

    async def unaddressed() -> dict[str, float]:
        return _unaddressed((await service.api("GET", "/metrics")).text)

    user, group = unique("usr"), unique("grp")
    before = await unaddressed()
    await service.publish(MembershipActivated(user_id=user, group_id=group, tier_id="tier_gold"))
    await service.publish(
        MembershipPastDue(
            user_id=user, group_id=group, tier_id="tier_gold", grace_until=datetime.now(UTC)
        )
    )
    kinds = ("new_member", "access_at_risk")

    async def counted() -> bool:
        # Grown, not equal: the durable also works through earlier tests' events.
        now = await unaddressed()
        return all(now.get(k, 0.0) > before.get(k, 0.0) for k in kinds)

    await wait_until(counted, message="both kinds counted")
    assert await service.notifications(user_id=user) == []
