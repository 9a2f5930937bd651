"""Decisions on payout requests race safely: one decision per request, money moved iff approved,
and an approval whose transfer Stripe did not confirm stays approved until approved again."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext

from ledger.adapters import orm
from ledger.adapters.stripe_gateway import StripeGateway
from ledger.config import Settings
from ledger.domain.errors import StripeUnavailable
from ledger.service_layer import Deps
from ledger.service_layer.payouts import approve_payout
from ledger.service_layer.unit_of_work import LedgerUnitOfWork as Unit
from tollgate_shared.infra.stripe_client import make_stripe_client
from tollgate_shared.messaging.outbox import Outbox
from tollgate_shared.messaging.streams import STRIPE
from tollgate_shared.persistence.unit_of_work import units_of_work
from tollgate_shared.testing import StripeWorld, consumer_idle, sessions_on, unique, wait_until

from .conftest import auth, funded_group

GROUPS = 4
PAIRS = 8
"""Approve/reject pairs per group."""


async def _request(ledger: httpx.AsyncClient, group: str, amount: int) -> str:
    organizer = auth(sub=unique("org"), roles=("organizer",), groups=(group,))
    created = await ledger.post(
        f"/groups/{group}/payouts", json={"amount": amount, "currency": "usd"}, headers=organizer
    )
    assert created.status_code == 201, created.text
    return str(created.json()["payout_id"])


async def _transfers(world: StripeWorld, payout_id: str) -> list[Any]:
    """The transfers Stripe made for one request."""
    page = await world.client.v1.transfers.list_async({"transfer_group": payout_id})
    return list(page.data)


async def _balance(ledger: httpx.AsyncClient, group: str) -> dict[str, int]:
    answer = await ledger.get(f"/groups/{group}/balance?currency=usd", headers=auth())
    return {k: int(answer.json()[k]) for k in ("payable", "pending", "available")}


def _refused(answer: httpx.Response) -> bool:
    return answer.status_code == 409 and answer.json()["error"]["code"] == "already_decided"


async def _after(delay: float, call: Awaitable[httpx.Response]) -> httpx.Response:
    await asyncio.sleep(delay)
    return await call


async def test_concurrent_approve_and_reject_take_exactly_one_decision(
    world: StripeWorld, ledger: httpx.AsyncClient, settings: Settings, js: JetStreamContext
) -> None:
    funded = await asyncio.gather(
        *(funded_group(world, ledger, destination="acct_" + unique("race")) for _ in range(GROUPS))
    )
    amount = min(available for _, available in funded) // (PAIRS + 1)
    ids: dict[str, str] = {}
    for group, _ in funded:
        for _ in range(PAIRS):
            ids[await _request(ledger, group, amount)] = group
    before = {group: await _balance(ledger, group) for group, _ in funded}

    # Each pair at once, one of the two sent a few milliseconds late at random, so that
    # either may win and the reject may arrive during the approval's transfer.
    rng = random.Random(23)

    async def decide(payout_id: str) -> tuple[httpx.Response, httpx.Response]:
        late = rng.uniform(0, 0.03)
        approve_delay, reject_delay = (late, 0.0) if rng.random() < 0.5 else (0.0, late)
        approve = ledger.post(f"/payouts/{payout_id}/approve", headers=auth())
        reject = ledger.post(f"/payouts/{payout_id}/reject", headers=auth())
        return await asyncio.gather(_after(approve_delay, approve), _after(reject_delay, reject))

    answers = dict(zip(ids, await asyncio.gather(*(decide(p) for p in ids)), strict=True))
    moved: Counter[str] = Counter()
    async with sessions_on(settings.sqlalchemy_url) as sessions, Unit(sessions) as uow:
        for payout_id, (approve, reject) in answers.items():
            row = await uow.payouts.get(payout_id)
            assert row is not None and row["decided_at"] is not None
            transfers = await _transfers(world, payout_id)
            if approve.status_code == 200:
                assert _refused(reject), reject.text
                assert row["status"] == "paid"
                assert [t.id for t in transfers] == [row["transfer_id"]]
                moved[ids[payout_id]] += amount
            else:
                assert _refused(approve), approve.text
                assert reject.status_code == 200, reject.text
                assert row["status"] == "rejected"
                assert transfers == []
    for group, _ in funded:
        payable = before[group]["payable"] - moved[group]
        assert await _balance(ledger, group) == {
            "payable": payable,
            "pending": 0,
            "available": payable,
        }

    # Stripe's transfer events, consumed too, book nothing twice.
    await world.forward()
    await wait_until(lambda: consumer_idle(js, STRIPE.name, "ledger"), message="events consumed")
    for group, _ in funded:
        assert (await _balance(ledger, group))["payable"] == before[group]["payable"] - moved[group]


async def test_concurrent_approvals_send_one_transfer(
    world: StripeWorld, ledger: httpx.AsyncClient
) -> None:
    group, available = await funded_group(world, ledger, destination="acct_" + unique("race"))
    amount = available // 4
    ids = [await _request(ledger, group, amount) for _ in range(3)]
    answers = await asyncio.gather(
        *(ledger.post(f"/payouts/{p}/approve", headers=auth()) for p in ids for _ in range(3))
    )
    for n, payout_id in enumerate(ids):
        mine = answers[3 * n : 3 * n + 3]
        # A loser finds it paid (409), or got the winner's transfer back by its key (200); a
        # Stripe call still in flight after the retries is 503 and leaves it to the winner.
        assert any(a.status_code == 200 for a in mine)
        assert all(a.status_code == 200 or _refused(a) or a.status_code == 503 for a in mine)
        [transfer] = await _transfers(world, payout_id)
        assert {a.json()["transfer_id"] for a in mine if a.status_code == 200} == {transfer.id}
    balance = await _balance(ledger, group)
    assert balance["pending"] == 0
    assert balance["available"] == available - 3 * amount


async def test_a_payout_key_reused_with_another_request_is_refused(
    world: StripeWorld, ledger: httpx.AsyncClient
) -> None:
    group, available = await funded_group(world, ledger)
    organizer = auth(sub=unique("org"), roles=("organizer",), groups=(group,))
    headers = {**organizer, "Idempotency-Key": unique("key")}
    body = {"amount": available // 2, "currency": "usd"}
    first = await ledger.post(f"/groups/{group}/payouts", json=body, headers=headers)
    assert first.status_code == 201, first.text
    for other in ({**body, "amount": body["amount"] + 1}, {**body, "currency": "eur"}):
        reused = await ledger.post(f"/groups/{group}/payouts", json=other, headers=headers)
        assert reused.status_code == 422, reused.text
        assert reused.json()["error"]["code"] == "idempotency_key_reused"
    again = await ledger.post(f"/groups/{group}/payouts", json=body, headers=headers)
    assert (again.status_code, again.json()) == (200, first.json())
    listed = await ledger.get(f"/groups/{group}/payouts", headers=organizer)
    assert [p["payout_id"] for p in listed.json()["data"]] == [first.json()["payout_id"]]
    assert (await _balance(ledger, group))["pending"] == body["amount"]
    eur = await ledger.get(f"/groups/{group}/balance?currency=eur", headers=organizer)
    assert eur.json()["pending"] == 0


async def _approved_without_transfer(
    world: StripeWorld, ledger: httpx.AsyncClient, settings: Settings
) -> tuple[str, str, int]:
    """A request whose approval committed but whose transfer Stripe never confirmed (its
    Stripe is unreachable): it stays approved, reserved, and can no longer be rejected."""
    group, available = await funded_group(world, ledger, destination="acct_" + unique("crash"))
    payout_id = await _request(ledger, group, available // 2)
    unreachable = settings.model_copy(update={"stripe_api_base": "http://127.0.0.1:9"})
    async with sessions_on(settings.sqlalchemy_url) as sessions:
        deps = Deps(
            stripe=StripeGateway(make_stripe_client(unreachable, max_network_retries=0)),
            uow=units_of_work(Unit, sessions, outbox=Outbox(orm.outbox)),
        )
        with pytest.raises(StripeUnavailable):
            await approve_payout(deps, payout_id, admin="admin_1")
        async with Unit(sessions) as uow:
            row = await uow.payouts.get(payout_id)
    assert row is not None and row["status"] == "approved"
    assert _refused(await ledger.post(f"/payouts/{payout_id}/reject", headers=auth()))
    assert (await _balance(ledger, group))["available"] == available - available // 2
    return group, payout_id, available


async def test_an_approval_stripe_did_not_answer_is_sent_when_approved_again(
    world: StripeWorld, ledger: httpx.AsyncClient, settings: Settings
) -> None:
    group, payout_id, available = await _approved_without_transfer(world, ledger, settings)
    assert await _transfers(world, payout_id) == []
    again = await ledger.post(f"/payouts/{payout_id}/approve", headers=auth())
    assert again.status_code == 200, again.text
    [transfer] = await _transfers(world, payout_id)
    assert (again.json()["status"], again.json()["transfer_id"]) == ("paid", transfer.id)
    assert (await _balance(ledger, group))["available"] == available - available // 2


async def test_a_transfer_made_but_never_booked_is_found_when_approved_again(
    world: StripeWorld, ledger: httpx.AsyncClient, settings: Settings
) -> None:
    group, payout_id, available = await _approved_without_transfer(world, ledger, settings)
    # Stripe made the transfer but the ledger never heard (and Stripe forgot the key since).
    made = await world.client.v1.transfers.create_async(
        {
            "amount": available // 2,
            "currency": "usd",
            "destination": "acct_elsewhere",
            "transfer_group": payout_id,
            "metadata": {"group_id": group, "payout_id": payout_id},
        }
    )
    again = await ledger.post(f"/payouts/{payout_id}/approve", headers=auth())
    assert again.status_code == 200, again.text
    assert (again.json()["status"], again.json()["transfer_id"]) == ("paid", made.id)
    assert [t.id for t in await _transfers(world, payout_id)] == [made.id]
    assert (await _balance(ledger, group))["payable"] == available - available // 2
