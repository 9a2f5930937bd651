"""Journey 5: a payment is disputed and the dispute is lost."""

from tollgate_shared.testing import unique

DISPUTE_FEE = 1500


async def test_lost_dispute_alerts_the_organizer_and_the_ledger_balances(platform) -> None:
    group, user = unique("grp"), unique("usr")
    organizer = platform.organizer(group)
    alerts_to = f"{group}@organizers.test"
    contacts = await platform.call(
        "PUT",
        "notifications",
        f"/groups/{group}/contacts",
        headers=organizer,
        json={"emails": [alerts_to], "name": "Chess club"},
    )
    assert contacts["emails"] == [alerts_to]
    tier = await platform.create_tier(group, amount=3000, interval="month")
    await platform.subscribe(user, group, tier["id"])
    [payment] = await platform.until(lambda: platform.payments(user), message="payment booked")
    charge_id = payment["charge_id"]

    dispute = await platform.control(f"/charges/{charge_id}/dispute", {"reason": "fraudulent"})
    await platform.wait_mail(alerts_to, r"^Dispute opened: \$30\.00 in Chess club")
    await platform.control(f"/disputes/{dispute['id']}/close", {"outcome": "lost"})

    async def lost() -> dict | None:
        risk = await platform.call("GET", "ledger", f"/groups/{group}/risk", headers=organizer)
        return next((d for d in risk["disputes"] if d["status"] == "lost"), None)

    closed = await platform.until(lost, message="dispute lost in the ledger")
    assert (closed["dispute_id"], closed["amount"]) == (dispute["id"], 3000)

    # The ledger balances: every transaction is double-entry, and the group's net is what
    # Stripe's balance moved for this charge and its dispute.
    stripe_net = 0
    for source in (charge_id, dispute["id"]):
        moved = await platform.stripe("/balance_transactions", source=source, limit=100)
        stripe_net += sum(t["net"] for t in moved["data"])
    charge = await platform.stripe(f"/charges/{charge_id}", **{"expand[]": "balance_transaction"})
    fee = charge["balance_transaction"]["fee"]
    assert stripe_net == 3000 - fee - 3000 - DISPUTE_FEE

    async def booked() -> dict | None:
        totals = await platform.summary(group)
        return totals if totals and totals["net"] == stripe_net else None

    totals = await platform.until(booked, message=f"ledger net {stripe_net}")
    assert (totals["gross"], totals["disputes"], totals["fees"]) == (3000, 3000, fee + DISPUTE_FEE)
    for transaction in await platform.transactions(group):
        assert sum(e["amount"] for e in transaction["entries"]) == 0, transaction
    balance = await platform.call(
        "GET", "ledger", f"/groups/{group}/balance", headers=organizer, params={"currency": "usd"}
    )
    assert balance["payable"] == stripe_net, balance
