"""Reconciliation lists the Stripe movements the ledger lacks, and none it has booked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from ledger.bootstrap import build
from ledger.config import Settings
from ledger.service_layer.reconcile import reconcile
from tollgate_shared.testing import StripeWorld, unique

from .conftest import fee_booked


async def test_reconcile_finds_what_is_not_booked(
    world: StripeWorld, ledger: httpx.AsyncClient, settings: Settings
) -> None:
    ledger_service = build(settings)
    runtime, deps = ledger_service.runtime, ledger_service.deps
    sessions = runtime.sessions
    assert sessions is not None and runtime.engine is not None
    paid = await world.checkout(await world.price(2500), group_id=unique("grp"), user_id="u")
    charge = await world.client.v1.charges.retrieve_async(
        await world.charge_of_intent(paid["payment_intent"])
    )
    now = datetime.now(UTC)
    window = (now - timedelta(hours=1), now + timedelta(hours=1))

    missing = await reconcile(deps, sessions, *window)
    assert charge.balance_transaction in {d.balance_transaction_id for d in missing}

    await world.forward()
    await fee_booked(ledger, charge.id)  # the payable moved by the net: gross less the fee
    after = await reconcile(deps, sessions, *window)
    assert charge.balance_transaction not in {d.balance_transaction_id for d in after}
    await runtime.engine.dispose()
