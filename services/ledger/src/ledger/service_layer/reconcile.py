"""Reconciliation: the ledger against Stripe's balance transactions for a period.

Each balance transaction's net (amount - fee) must equal what the ledger moved on the
payable account for it; anything else is listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ledger.adapters import queries
from ledger.adapters.stripe_gateway import SourcedBalanceTransaction
from ledger.service_layer import Deps


@dataclass(frozen=True)
class Difference:
    balance_transaction_id: str
    problem: str
    """`missing_in_ledger`, `amount_differs` or `missing_in_stripe`."""
    type: str | None = None
    source: str | None = None
    stripe_net: int | None = None
    ledger_net: int | None = None


def _compare(bt: SourcedBalanceTransaction, booked: dict[str, int]) -> Difference | None:
    net = bt.amount - bt.fee
    if bt.id not in booked:
        return Difference(bt.id, "missing_in_ledger", bt.type, bt.source, net, None)
    if booked[bt.id] != net:
        return Difference(bt.id, "amount_differs", bt.type, bt.source, net, booked[bt.id])
    return None


async def reconcile(
    deps: Deps, sessions: async_sessionmaker[AsyncSession], start: datetime, end: datetime
) -> list[Difference]:
    """Every difference between Stripe and the ledger for movements in [start, end)."""
    begin, until = int(start.timestamp()), int(end.timestamp())
    stripe_side = {
        bt.id: bt
        for bt in await deps.stripe.balance_transactions(created_from=begin, created_to=until)
        if bt.created is not None and begin <= bt.created < until
    }
    async with sessions() as session:
        ours = await queries.ledger_balance_transactions_in(session, start, end)
        booked = await queries.ledger_for_balance_transactions(
            session, sorted(set(stripe_side) | set(ours))
        )
    differences = [d for bt in stripe_side.values() if (d := _compare(bt, booked))]
    for bt_id in sorted(set(ours) - set(stripe_side)):
        try:
            bt = await deps.stripe.balance_transaction(bt_id)
        except Exception:
            differences.append(Difference(bt_id, "missing_in_stripe", ledger_net=booked.get(bt_id)))
            continue
        if found := _compare(bt, booked):
            differences.append(found)
    return differences
