"""Journey 6: a one-off purchase is claimed exactly once; a declined card grants nothing."""

from tollgate_shared.testing import unique

DECLINED = "4000 0000 0000 0002"


async def test_a_paid_purchase_is_claimed_once(platform) -> None:
    group, buyer = unique("grp"), unique("usr")
    item = await platform.call(
        "POST",
        "checkout",
        f"/groups/{group}/items",
        headers=platform.organizer(group),
        json={"name": "Workshop seat", "amount": 2500, "currency": "usd"},
        expect=201,
    )
    reference = unique("booking")
    body = {"purpose": "purchase", "item_id": item["id"], "reference": reference}
    session = await platform.checkout(buyer, body)
    claim_path = f"/purchases/{session['session_id']}/claim"
    claim = {"reference": reference}
    mine = platform.member(buyer)
    await platform.call("POST", "checkout", claim_path, headers=mine, json=claim, expect=402)

    paid = await platform.pay(session["url"])
    assert paid.status_code == 303, paid.text
    stranger = platform.member(unique("usr"))
    await platform.call("POST", "checkout", claim_path, headers=stranger, json=claim, expect=403)

    claimed = await platform.call("POST", "checkout", claim_path, headers=mine, json=claim)
    assert (claimed["claimed"], claimed["reference"], claimed["item_id"]) == (
        True,
        reference,
        item["id"],
    )
    assert (claimed["amount"], claimed["currency"]) == (2500, "usd")
    again = await platform.http.post(
        platform.service("checkout") + claim_path, headers=mine, json=claim
    )
    assert again.status_code == 409, again.text
    assert again.json()["error"]["code"]

    [payment] = await platform.until(lambda: platform.payments(buyer), message="payment booked")
    assert payment["amount"] == 2500
    await platform.wait_mail(platform.email(buyer), r"^Receipt: \$25\.00")


async def test_a_declined_card_grants_nothing(platform) -> None:
    group, user = unique("grp"), unique("usr")
    tier = await platform.create_tier(group, amount=1800, interval="month")
    session = await platform.checkout(user, {"tier_id": tier["id"]})

    declined = await platform.pay(session["url"], card=DECLINED)
    assert declined.status_code == 402, declined.text
    assert "declined" in declined.text.lower()

    await platform.drained()
    gate = await platform.gate(user, group)
    assert (gate["active"], gate["status"]) == (False, "none"), gate
    assert await platform.payments(user) == []
    assert await platform.summary(group) is None
    assert await platform.mails(platform.email(user)) == []

    # The session stays open: the member can still pay it with another card.
    paid = await platform.pay(session["url"])
    assert paid.status_code == 303, paid.text
    await platform.wait_gate(user, group, lambda g: g["active"], "paid with another card")
