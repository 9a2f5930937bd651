"""Transfers and payouts."""

from stripe_emulator.api import Call, StripeRouter
from stripe_emulator.errors import invalid
from stripe_emulator.objects import payments as build
from stripe_emulator.store import StripeObject

api = StripeRouter()


def _amount(call: Call) -> int:
    amount = call.params.integer("amount", required=True)
    assert amount is not None
    if amount < 1:
        raise invalid("Invalid positive integer", param="amount")
    return amount


def _debit(call: Call, kind: str) -> tuple[int, str, int, StripeObject]:
    """Amount, currency and time of a transfer or payout, and its balance transaction."""
    p, em = call.params, call.emulator
    amount, currency, now = _amount(call), p.req("currency").lower(), em.now()
    txn = em.store.add(
        build.balance_transaction(
            created=now,
            amount=-amount,
            fee=0,
            currency=currency,
            source="",
            type=kind,
            reporting_category=kind,
            description=p.text("description"),
        )
    )
    return amount, currency, now, txn


@api.post("/v1/transfers")
def create_transfer(call: Call) -> StripeObject:
    """Send funds to a connected account."""
    p, em = call.params, call.emulator
    amount, currency, now, txn = _debit(call, "transfer")
    transfer = em.store.add(
        build.transfer(
            created=now,
            amount=amount,
            currency=currency,
            destination=p.req("destination"),
            description=p.text("description"),
            transfer_group=p.text("transfer_group"),
            metadata=p.metadata(),
            balance_transaction=txn["id"],
        )
    )
    txn["source"] = transfer["id"]
    em.emit("transfer.created", transfer)
    return transfer


@api.get("/v1/transfers/{id}")
def retrieve_transfer(call: Call) -> StripeObject:
    """Retrieve a transfer."""
    return call.emulator.store.find("transfer", call.path["id"])


@api.get("/v1/transfers")
def list_transfers(call: Call) -> StripeObject:
    """List transfers by `destination` or `transfer_group`."""
    p = call.params
    destination, group = p.text("destination"), p.text("transfer_group")
    items = [
        x
        for x in call.emulator.store.all("transfer")
        if (destination is None or x["destination"] == destination)
        and (group is None or x["transfer_group"] == group)
    ]
    return call.page(items, "/v1/transfers")


@api.post("/v1/payouts")
def create_payout(call: Call) -> StripeObject:
    """Pay out to the default bank account."""
    p, em = call.params, call.emulator
    amount, currency, now, txn = _debit(call, "payout")
    payout = em.store.add(
        build.payout(
            created=now,
            amount=amount,
            currency=currency,
            description=p.text("description"),
            method=p.choice("method", ("standard", "instant")) or "standard",
            metadata=p.metadata(),
            balance_transaction=txn["id"],
        )
    )
    txn["source"] = payout["id"]
    em.emit("payout.created", payout)
    return payout


@api.get("/v1/payouts/{id}")
def retrieve_payout(call: Call) -> StripeObject:
    """Retrieve a payout."""
    return call.emulator.store.find("payout", call.path["id"])


@api.get("/v1/payouts")
def list_payouts(call: Call) -> StripeObject:
    """List payouts, optionally by `status`."""
    status = call.params.text("status")
    items = [
        x for x in call.emulator.store.all("payout") if status is None or x["status"] == status
    ]
    return call.page(items, "/v1/payouts")
