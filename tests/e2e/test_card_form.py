"""Journey 8: the app's own card form (Stripe Elements). Checkout makes the subscription or the
PaymentIntent and answers its client secret, which the browser confirms (here the Stripe SDK,
with Stripe's test payment methods); Stripe's events do the rest, as for Checkout."""

import re

from tollgate_shared.testing import unique

RECEIPT = r"^Receipt: "


async def _receipts(platform, user: str) -> list[dict]:
    mails = await platform.mails(platform.email(user))
    return [m for m in mails if re.match(RECEIPT, m["subject"])]


async def test_a_member_joins_in_the_card_form_paying_with_a_card(platform) -> None:
    group, user = unique("grp"), unique("usr")
    tier = await platform.create_tier(group, amount=1500, interval="month")

    started = await platform.join_in_card_form(user, tier["id"])
    assert started["status"] == "incomplete" and started["subscription_id"].startswith("sub_")
    assert (await platform.gate(user, group))["active"] is False

    assert await platform.confirm(started["client_secret"]) == "succeeded"
    gate = await platform.wait_gate(user, group, lambda g: g["active"], "paid in the card form")
    assert (gate["tier_id"], gate["subscription_id"]) == (tier["id"], started["subscription_id"])
    totals = await platform.booked_with_fee(group, user)
    assert (totals["currency"], totals["gross"]) == ("usd", 1500)
    await platform.wait_mail(platform.email(user), RECEIPT + r"\$15\.00")

    await platform.drained()
    assert len(await _receipts(platform, user)) == 1


async def test_a_card_asking_for_3d_secure_gives_access_only_once_the_challenge_is_completed(
    platform,
) -> None:
    group, completes, fails = unique("grp"), unique("usr"), unique("usr")
    tier = await platform.create_tier(group, amount=1600, interval="month")
    intents = {}
    for user in (completes, fails):
        started = await platform.join_in_card_form(user, tier["id"])
        secret = started["client_secret"]
        assert await platform.confirm(secret, "pm_card_authenticationRequired") == "requires_action"
        intents[user] = secret.split("_secret_")[0]
    await platform.drained()
    for user in (completes, fails):
        assert (await platform.gate(user, group))["active"] is False, user

    for user, outcome in ((completes, "succeed"), (fails, "fail")):
        challenge = f"/payment_intents/{intents[user]}/authenticate"
        await platform.control(challenge, {"outcome": outcome})
    await platform.wait_gate(completes, group, lambda g: g["active"], "challenge completed")
    await platform.drained()
    gate = await platform.gate(fails, group)
    assert (gate["active"], gate["status"]) == (False, "incomplete"), gate
    assert await platform.payments(fails) == []
    assert await _receipts(platform, fails) == []


async def test_a_declined_card_gives_no_access_a_failure_mail_and_the_seat_back_on_expiry(
    platform,
) -> None:
    group, user, next_in_line = unique("grp"), unique("usr"), unique("usr")
    tier = await platform.create_tier(group, amount=1800, interval="month", capacity=1)
    started = await platform.join_in_card_form(user, tier["id"])

    declined = await platform.confirm(started["client_secret"], "pm_card_chargeDeclined")
    assert declined == "requires_payment_method"
    await platform.wait_mail(platform.email(user), r"^Your payment of \$18\.00 to .* failed")
    await platform.drained()
    assert (await platform.gate(user, group))["active"] is False
    assert await platform.payments(user) == []
    full = await platform.join_in_card_form(next_in_line, tier["id"], expect=409)
    assert full["error"]["code"] == "tier_full"

    # Stripe's 23 hours pass: the subscription expires incomplete and its seat is free again.
    expired = await platform.advance(started["subscription_id"])
    assert expired["status"] == "incomplete_expired", expired
    await platform.drained()
    gate = await platform.gate(user, group)
    assert (gate["active"], gate["status"]) == (False, "incomplete_expired"), gate
    assert [m["subject"] for m in await platform.mails(platform.email(user))] == [
        f"Your payment of $18.00 to {group} failed"
    ]
    await platform.join_in_card_form(next_in_line, tier["id"])


async def test_a_purchase_in_the_card_form_is_claimed_booked_and_receipted_once(
    platform,
) -> None:
    group, buyer = unique("grp"), unique("usr")
    organizer, contact = platform.organizer(group), f"{unique('org')}@organizers.test"
    await platform.call(
        "PUT",
        "notifications",
        f"/groups/{group}/contacts",
        headers=organizer,
        json={"emails": [contact], "name": "Chess club"},
    )
    item = await platform.call(
        "POST",
        "checkout",
        f"/groups/{group}/items",
        headers=organizer,
        json={"name": "Workshop seat", "amount": 2500, "currency": "usd"},
        expect=201,
    )
    reference, mine = unique("booking"), platform.member(buyer)
    async with platform.deliveries_doubled_and_shuffled():
        intent = await platform.call(
            "POST",
            "checkout",
            "/purchases/payment-intents",
            headers=mine,
            json={"item_id": item["id"], "reference": reference},
            expect=201,
        )
        claim_path = f"/purchases/{intent['payment_intent_id']}/claim"
        claim = {"reference": reference}
        await platform.call("POST", "checkout", claim_path, headers=mine, json=claim, expect=402)

        secret, back = intent["client_secret"], "https://app.example/paid"
        declined = await platform.confirm(secret, "pm_card_chargeDeclined", return_url=back)
        assert declined == "requires_payment_method"
        assert await platform.confirm(secret, return_url=back) == "succeeded"

        claimed = await platform.call("POST", "checkout", claim_path, headers=mine, json=claim)
        assert (claimed["claimed"], claimed["reference"], claimed["amount"]) == (
            True,
            reference,
            2500,
        )
        again = await platform.call(
            "POST", "checkout", claim_path, headers=mine, json=claim, expect=409
        )
        assert again["error"]["code"] == "already_claimed"

    for paid_event in ("charge.succeeded", "payment_intent.succeeded"):
        events = (await platform.stripe("/events", type=paid_event, limit=100))["data"]
        [event] = [e for e in events if intent["payment_intent_id"] in str(e["data"]["object"])]
        deliveries = await platform.http.get(
            f"{platform.emulator}/_emulator/deliveries", params={"event": event["id"]}
        )
        assert sum(d["succeeded"] for d in deliveries.json()) == 2, deliveries.text
    totals = await platform.booked_with_fee(group, buyer)
    assert (totals["currency"], totals["gross"]) == ("usd", 2500)
    await platform.wait_mail(platform.email(buyer), RECEIPT + r"\$25\.00 to Chess club")
    await platform.wait_mail(contact, r"^New sale in Chess club: \$25\.00")
    await platform.drained()
    [payment] = await platform.payments(buyer)
    paid = await platform.stripe(f"/payment_intents/{intent['payment_intent_id']}")
    assert payment["charge_id"] == paid["latest_charge"]
    kinds = sorted(t["kind"] for t in await platform.transactions(group))
    assert kinds == ["fee", "payment"]
    assert len(await _receipts(platform, buyer)) == 1
    assert len(await platform.mails(contact)) == 1


async def test_a_trial_in_the_card_form_gives_access_at_once_and_bills_the_saved_card_at_its_end(
    platform,
) -> None:
    group, user = unique("grp"), unique("usr")
    tier = await platform.create_tier(group, amount=1500, interval="month", trial_days=14)

    started = await platform.join_in_card_form(user, tier["id"])

    assert (started["intent_type"], started["status"]) == ("setup", "trialing")
    assert started["client_secret"].startswith("seti_") and started["trial_end"]
    gate = await platform.wait_gate(user, group, lambda g: g["active"], "trialing, no card yet")
    assert (gate["status"], gate["tier_id"]) == ("trialing", tier["id"])
    await platform.drained()
    assert await platform.payments(user) == []  # nothing was due

    # The card form saves the card (Stripe.js confirmSetup); the trial's end bills it.
    assert await platform.confirm(started["client_secret"]) == "succeeded"
    converted = await platform.advance(started["subscription_id"])
    assert converted["status"] == "active", converted
    await platform.wait_gate(user, group, lambda g: g["status"] == "active", "trial converted")
    totals = await platform.booked_with_fee(group, user)
    assert (totals["currency"], totals["gross"]) == ("usd", 1500)
    await platform.wait_mail(platform.email(user), RECEIPT + r"\$15\.00")
    await platform.drained()
    mails = [m["subject"] for m in await platform.mails(platform.email(user))]
    assert mails == [f"Receipt: $15.00 to {group}"]  # none for the trial's invoice of 0
