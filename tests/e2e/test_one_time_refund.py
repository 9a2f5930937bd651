"""Journey 4: a one-time annual membership, then a full refund by an admin ends it."""

from datetime import UTC, datetime, timedelta

from tollgate_shared.testing import unique


async def test_full_refund_of_a_one_time_annual_membership_ends_it(platform) -> None:
    group, user = unique("grp"), unique("usr")
    tier = await platform.create_tier(
        group, name="Annual", amount=12000, interval="one_time_annual"
    )
    session = await platform.checkout(user, {"tier_id": tier["id"]})
    paid = await platform.pay(session["url"])
    assert paid.status_code == 303, paid.text

    gate = await platform.wait_gate(user, group, lambda g: g["active"], "one-time membership")
    assert (gate["tier_id"], gate["source"], gate["subscription_id"]) == (
        tier["id"],
        "one_time",
        None,
    )
    expires = datetime.fromisoformat(gate["expires_at"]) - datetime.now(UTC)
    assert timedelta(days=364) < expires <= timedelta(days=365), gate["expires_at"]

    [payment] = await platform.until(lambda: platform.payments(user), message="payment booked")
    charge_id = payment["charge_id"]
    assert payment["amount"] == 12000
    body = {"reason": "requested_by_customer", "note": "changed their mind"}
    path = f"/payments/{charge_id}/refunds"
    await platform.call(
        "POST", "ledger", path, headers=platform.organizer(group), json=body, expect=403
    )
    refund = await platform.call(
        "POST", "ledger", path, headers=platform.admin, json=body, expect=202
    )
    assert (refund["amount"], refund["currency"]) == (12000, "usd")

    closed = await platform.wait_gate(user, group, lambda g: not g["active"], "refund ends it")
    assert closed["status"] != "active", closed

    async def refund_booked() -> dict | None:
        totals = await platform.summary(group)
        # The fee comes from the ledger's fee task, which reads it after the payment is booked.
        return totals if totals and totals["refunds"] and totals["fees"] else None

    totals = await platform.until(refund_booked, message="refund and fee in the ledger")
    charge = await platform.stripe(f"/charges/{charge_id}", **{"expand[]": "balance_transaction"})
    fee = charge["balance_transaction"]["fee"]
    assert charge["refunded"] and charge["amount_refunded"] == 12000
    assert (totals["gross"], totals["refunds"], totals["fees"]) == (12000, 12000, fee)
    assert totals["net"] == -fee  # Stripe keeps its fee on a refunded payment
    detail = await platform.call("GET", "ledger", f"/payments/{charge_id}", headers=platform.admin)
    [booked] = detail["refunds"]
    assert (booked["refund_id"], booked["amount"]) == (refund["refund_id"], 12000)
    assert (booked["status"], booked["requested_by"]) == ("succeeded", "e2e-admin")
    await platform.wait_mail(platform.email(user), r"^Refund of \$120\.00")
