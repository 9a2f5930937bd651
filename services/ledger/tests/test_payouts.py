"""Payout requests reserve the available balance under the group's lock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta

import httpx

from tollgate_shared.testing import StripeWorld, unique

from .conftest import auth, funded_group


async def test_two_concurrent_requests_beyond_the_balance_one_gets_409(
    world: StripeWorld, ledger: httpx.AsyncClient
) -> None:
    group, available = await funded_group(world, ledger)
    organizer = auth(sub=unique("org"), roles=("organizer",), groups=(group,))
    amount = available * 6 // 10
    answers = await asyncio.gather(
        *(
            ledger.post(
                f"/groups/{group}/payouts",
                json={"amount": amount, "currency": "usd"},
                headers=organizer,
            )
            for _ in range(2)
        )
    )
    assert sorted(a.status_code for a in answers) == [201, 409]
    refused = next(a for a in answers if a.status_code == 409)
    assert refused.json()["error"]["code"] == "insufficient_balance"
    balance = (await ledger.get(f"/groups/{group}/balance?currency=usd", headers=organizer)).json()
    assert balance["pending"] == amount
    assert balance["available"] == available - amount


async def test_a_retried_request_with_the_same_key_is_not_reserved_twice(
    world: StripeWorld, ledger: httpx.AsyncClient
) -> None:
    group, available = await funded_group(world, ledger)
    headers = {**auth(sub="org", roles=("organizer",), groups=(group,)), "Idempotency-Key": "k1"}
    body = {"amount": available, "currency": "usd"}
    first = await ledger.post(f"/groups/{group}/payouts", json=body, headers=headers)
    again = await ledger.post(f"/groups/{group}/payouts", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["payout_id"] == again.json()["payout_id"]


async def test_approval_needs_a_connected_account_and_rejection_frees_the_money(
    world: StripeWorld, ledger: httpx.AsyncClient
) -> None:
    group, available = await funded_group(world, ledger)
    organizer = auth(sub="org", roles=("organizer",), groups=(group,))
    created = await ledger.post(
        f"/groups/{group}/payouts", json={"amount": available, "currency": "usd"}, headers=organizer
    )
    payout_id = created.json()["payout_id"]
    assert (
        await ledger.post(f"/payouts/{payout_id}/approve", headers=organizer)
    ).status_code == 403
    refused = await ledger.post(f"/payouts/{payout_id}/approve", headers=auth())
    assert refused.status_code == 409, refused.text
    assert (await ledger.post(f"/payouts/{payout_id}/reject", headers=auth())).json()[
        "status"
    ] == "rejected"
    balance = (await ledger.get(f"/groups/{group}/balance?currency=usd", headers=organizer)).json()
    assert balance["available"] == available


async def test_organizers_see_only_their_groups(
    world: StripeWorld, ledger: httpx.AsyncClient
) -> None:
    group, _ = await funded_group(world, ledger)
    stranger = auth(sub="org2", roles=("organizer",), groups=(unique("grp"),))
    member = auth(sub="m", roles=())
    for headers in (stranger, member):
        assert (await ledger.get(f"/groups/{group}/summary", headers=headers)).status_code == 403
        assert (
            await ledger.post(
                f"/groups/{group}/payouts", json={"amount": 1, "currency": "usd"}, headers=headers
            )
        ).status_code == 403
    assert (await ledger.get(f"/groups/{group}/summary")).status_code == 401
    listed = await ledger.get("/payments", headers=stranger)
    assert all(p["group_id"] != group for p in listed.json()["data"])


async def test_a_group_is_paid_out_manually_until_its_schedule_is_set(
    ledger: httpx.AsyncClient,
) -> None:
    group = unique("grp")
    organizer = auth(sub=unique("org"), roles=("organizer",), groups=(group,))
    path = f"/groups/{group}/payout-schedule"
    default = await ledger.get(path, headers=organizer)
    assert default.json() == {"group_id": group, "interval": "manual", "minimum_amount": 0}
    body = {"interval": "weekly", "minimum_amount": 500, "currency": "usd"}
    saved = await ledger.put(path, json=body, headers=organizer)
    assert saved.status_code == 200, saved.text
    assert saved.json() == {
        "group_id": group,
        **body,
        "destination_account": None,
        "updated_at": saved.json()["updated_at"],
        "next_due_at": saved.json()["next_due_at"],
    }
    assert (await ledger.get(path, headers=organizer)).json() == saved.json()
    # First due at the start of the next week (Monday 00:00 UTC); the same interval keeps it.
    due = datetime.fromisoformat(saved.json()["next_due_at"])
    now = datetime.now(UTC)
    assert now < due <= now + timedelta(days=7)
    assert (due.weekday(), due.time(), due.utcoffset()) == (0, time(0), timedelta(0))
    higher = await ledger.put(path, json={**body, "minimum_amount": 900}, headers=organizer)
    assert higher.json()["next_due_at"] == saved.json()["next_due_at"]
    monthly = await ledger.put(path, json={**body, "interval": "monthly"}, headers=organizer)
    first = datetime.fromisoformat(monthly.json()["next_due_at"])
    assert (first.day, first.time(), first > now) == (1, time(0), True)
    manual = await ledger.put(path, json={**body, "interval": "manual"}, headers=organizer)
    assert manual.json()["next_due_at"] is None
