"""Journey 2: a renewal is paid; the next one fails, the member is warned while past due, and
when the retry fails too the subscription is canceled and the gate closes."""

from datetime import datetime

from tollgate_shared.testing import unique

DECLINED = "4000 0000 0000 0002"


async def test_renewal_paid_then_failed_past_due_canceled_closes_the_gate(platform) -> None:
    group, user = unique("grp"), unique("usr")
    email = platform.email(user)
    tier = await platform.create_tier(group, amount=1000, interval="month")
    joined = await platform.subscribe(user, group, tier["id"])
    subscription = joined["subscription_id"]
    assert subscription and subscription.startswith("sub_")
    await platform.wait_mail(email, r"^Receipt: \$10\.00")

    # Renewal paid: the period moves on, a second payment is booked and receipted.
    renewed = await platform.advance(subscription)
    assert renewed["status"] == "active", renewed
    await platform.wait_gate(
        user,
        group,
        lambda g: g["active"] and _at(g["expires_at"]) > _at(joined["expires_at"]),
        "period moved on",
    )
    payments = await platform.until(
        lambda: _at_least(platform.payments(user), 2), message="renewal payment booked"
    )
    assert [p["amount"] for p in payments] == [1000, 1000]

    async def two_receipts() -> bool:
        return len([m for m in await platform.mails(email) if "Receipt" in m["subject"]]) == 2

    await platform.until(two_receipts, message="a receipt for the renewal")

    # Renewal declined: past due, still in (grace), and warned.
    failed = await platform.advance(subscription, card=DECLINED)
    assert failed["status"] == "past_due", failed
    at_risk = await platform.wait_gate(user, group, lambda g: g["status"] == "past_due", "past due")
    assert at_risk["active"] and at_risk["grace_until"], at_risk
    await platform.wait_mail(email, r"^Your payment of \$10\.00 .* failed")
    await platform.wait_mail(email, r"^Your access to .* is at risk")

    # The retry is declined too: Stripe cancels, the gate closes, the member is told.
    canceled = await platform.advance(subscription, card=DECLINED, on_failure="canceled")
    assert canceled["status"] == "canceled", canceled
    closed = await platform.wait_gate(user, group, lambda g: not g["active"], "gate closed")
    assert closed["status"] == "canceled", closed
    await platform.wait_mail(email, r"^Your membership of .* (was canceled|has ended)")
    totals = await platform.summary(group)
    assert totals["gross"] == 2000, totals


async def _at_least(found, count: int) -> list | None:
    items = await found
    return items if len(items) >= count else None


def _at(instant: str) -> datetime:
    return datetime.fromisoformat(instant)
