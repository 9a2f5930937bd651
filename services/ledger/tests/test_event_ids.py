"""Every event id the gateway accepts can be stored: Stripe's ids run up to 255 characters."""

from __future__ import annotations

from typing import Any

import httpx

from tollgate_shared.contracts.stripe import EVENT_ID_MAX_LENGTH
from tollgate_shared.testing import StripeWorld, unique, wait_until

from .conftest import auth


def longest(event: dict[str, Any]) -> dict[str, Any]:
    """The event under an id of the longest length the gateway accepts."""
    return {**event, "id": event["id"].ljust(EVENT_ID_MAX_LENGTH, "0")}


async def test_a_payment_and_its_refund_are_booked_from_events_with_ids_of_255_characters(
    world: StripeWorld, ledger: httpx.AsyncClient
) -> None:
    group = unique("grp")
    paid = await world.checkout(await world.price(2600), group_id=group, user_id=unique("u"))
    charge = await world.charge_of_intent(paid["payment_intent"])
    await world.client.v1.refunds.create_async({"charge": charge, "amount": 600})
    events = [longest(e) for e in await world.take()]
    await world.publish(events)

    async def refunded() -> dict[str, Any] | None:
        answer = await ledger.get(f"/payments/{charge}", headers=auth())
        detail = answer.json() if answer.status_code == 200 else {}
        return detail if detail.get("refunded") == 600 and detail["fee"] is not None else None

    detail = await wait_until(refunded, message="payment, fee and refund booked")
    assert sorted(t["kind"] for t in detail["transactions"]) == ["fee", "payment", "refund"]
    # The fee is caused by no event: the fee task books it from its balance transaction.
    caused = [t["causation_id"] for t in detail["transactions"] if t["kind"] != "fee"]
    assert {len(cause) for cause in caused} == {EVENT_ID_MAX_LENGTH}
    assert {s["event_type"] for s in detail["timeline"]} >= {"charge.refunded", "refund.created"}
