"""`ledger.payment_recorded` carries the billed period of a subscription payment, and none for a
one-off payment."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select

from ledger.adapters import orm
from ledger.config import Settings
from tollgate_shared.persistence.db import make_engine
from tollgate_shared.testing import StripeWorld, unique, wait_until


async def _recorded(settings: Settings, charge_ids: list[str]) -> dict[str, dict[str, Any]] | None:
    engine = make_engine(settings.sqlalchemy_url, pool_size=1)
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(orm.outbox.c.payload).where(orm.outbox.c.subject == "ledger.payment_recorded")
        )
        payloads = [json.loads(r.payload) for r in rows]
    await engine.dispose()
    found = {p["charge_id"]: p for p in payloads if p["charge_id"] in charge_ids}
    return found if len(found) == len(charge_ids) else None


async def test_a_subscription_payment_names_the_period_it_pays_for(
    world: StripeWorld, ledger: httpx.AsyncClient, settings: Settings
) -> None:
    group = unique("grp")
    member = await world.checkout(
        await world.price(1500, monthly=True),
        group_id=group,
        user_id=unique("u"),
        subscription=True,
    )
    one_off = await world.checkout(await world.price(900), group_id=group, user_id=unique("u"))
    [subscription_charge] = await world.charges_of_subscription(member["subscription"])
    one_off_charge = await world.charge_of_intent(one_off["payment_intent"])
    await world.forward()

    events = await wait_until(
        lambda: _recorded(settings, [subscription_charge, one_off_charge]),
        message="both payments recorded",
        timeout=30,
    )
    invoices = await world.client.v1.invoices.list_async({"subscription": member["subscription"]})
    period = invoices.data[0].lines.data[0].period
    paid = events[subscription_charge]
    assert paid["period_start"] is not None and paid["period_end"] is not None
    assert datetime.fromisoformat(paid["period_start"]) == datetime.fromtimestamp(period.start, UTC)
    assert datetime.fromisoformat(paid["period_end"]) == datetime.fromtimestamp(period.end, UTC)
    assert paid["period_end"] > paid["period_start"]
    assert (events[one_off_charge]["period_start"], events[one_off_charge]["period_end"]) == (
        None,
        None,
    )
