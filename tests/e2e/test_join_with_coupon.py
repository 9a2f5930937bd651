"""Journey 1: an organizer sets up tiers and a coupon; a member joins with the coupon."""

from tollgate_shared.testing import unique


async def test_member_joins_with_a_coupon_and_gets_access_a_receipt_and_a_ledger_entry(
    platform,
) -> None:
    group, user = unique("grp"), unique("usr")
    organizer = platform.organizer(group)
    monthly = await platform.create_tier(group, name="Supporter", amount=2000, interval="month")
    await platform.create_tier(group, name="Patron", amount=20000, interval="year")
    code = unique("SPRING").upper()
    coupon = await platform.call(
        "POST",
        "checkout",
        f"/groups/{group}/coupons",
        headers=organizer,
        json={"code": code, "percent_off": 25},
        expect=201,
    )
    assert coupon["synced"], coupon
    tiers = await platform.call("GET", "checkout", "/tiers", params={"group_id": group})
    assert {t["name"] for t in tiers} == {"Supporter", "Patron"}

    session = await platform.checkout(user, {"tier_id": monthly["id"], "promotion_code": code})
    page = await platform.http.get(session["url"])
    assert "Discount" in page.text and "15.00 USD" in page.text, page.text
    paid = await platform.pay(session["url"], card="4242 4242 4242 4242")
    assert paid.status_code == 303, paid.text
    assert session["session_id"] in paid.headers["location"]

    gate = await platform.wait_gate(user, group, lambda g: g["active"], "active membership")
    assert gate["tier_id"] == monthly["id"]
    assert gate["source"] == "subscription"

    # The ledger: 15.00 paid (20.00 less 25 %), less Stripe's fee on what was charged.
    totals = await platform.booked_with_fee(group, user)
    assert (totals["currency"], totals["gross"]) == ("usd", 1500)
    assert totals["refunds"] == totals["disputes"] == 0

    await platform.wait_mail(platform.email(user), r"^Receipt: \$15\.00")

    async def redeemed() -> list:
        return await platform.call(
            "GET", "checkout", f"/coupons/{coupon['id']}/redemptions", headers=organizer
        )

    [redemption] = await platform.until(redeemed, message="coupon redemption recorded")
    assert (redemption["user_id"], redemption["tier_id"]) == (user, monthly["id"])
    assert redemption["stripe_session_id"] == session["session_id"]
    assert redemption["amount_discount"] == 500
