"""Journey 3: a member switches tiers by checking out another tier of the same group."""

from tollgate_shared.testing import unique


async def test_switching_tier_cancels_the_old_subscription_and_moves_the_gate(platform) -> None:
    group, user = unique("grp"), unique("usr")
    basic = await platform.create_tier(group, name="Basic", amount=1000, interval="month")
    plus = await platform.create_tier(group, name="Plus", amount=2500, interval="month")
    joined = await platform.subscribe(user, group, basic["id"])
    old = joined["subscription_id"]

    switched = await platform.subscribe(user, group, plus["id"])
    new = switched["subscription_id"]
    assert new != old and switched["tier_id"] == plus["id"]

    async def old_canceled() -> dict | None:
        subscription = await platform.stripe(f"/subscriptions/{old}")
        return subscription if subscription["status"] == "canceled" else None

    await platform.until(old_canceled, message="old subscription canceled at Stripe")
    assert (await platform.stripe(f"/subscriptions/{new}"))["status"] == "active"

    # Once everything the switch caused has been consumed (the old subscription's
    # customer.subscription.deleted included), the gate still shows the new tier, the old
    # subscription was cancelled exactly once, and the member was not told it ended.
    await platform.drained()
    gate = await platform.gate(user, group)
    assert (gate["active"], gate["tier_id"], gate["subscription_id"]) == (True, plus["id"], new)
    assert await platform.requests_to_stripe("DELETE", f"/v1/subscriptions/{old}") == 1
    mails = await platform.mails(platform.email(user))
    assert [m for m in mails if m["subject"].startswith("Your membership of")] == []
    payments = await platform.payments(user)
    assert sorted(p["amount"] for p in payments) == [1000, 2500]
