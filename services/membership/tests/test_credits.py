"""Credits: allocated on each paid cycle (once, newest cycle wins), spent idempotently and never
below zero under concurrency, with their history."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from sqlalchemy import select

from membership.adapters import orm
from tollgate_shared.testing import EmulatorEvents, cursor_pages, unique

from .conftest import SERVICE, Emulator, Service, ServiceFactory, bearer, user_token

CREDITS = {"credit_allowances": "booking=10,guest=2"}


async def _spend(
    http: httpx.AsyncClient,
    user: str,
    group: str,
    amount: int = 1,
    *,
    key: str | None = None,
    reference: str | None = None,
    kind: str = "booking",
    token: str = SERVICE,
) -> httpx.Response:
    headers = bearer(token) | ({"Idempotency-Key": key} if key else {})
    return await http.post(
        f"/entitlements/{user}/groups/{group}/credits/{kind}/spend",
        json={"amount": amount, "reference": reference or unique("booking")},
        headers=headers,
    )


async def _history(
    service: Service, user: str, group: str, *, limit: int, **params: Any
) -> list[dict[str, Any]]:
    """Every history entry, newest first, read page by page."""
    pages = await cursor_pages(
        service.http,
        f"/entitlements/{user}/groups/{group}/credits/history",
        limit=limit,
        items="items",
        params=params,
        headers=bearer(SERVICE),
    )
    return [entry for page in pages for entry in page]


async def test_cycles_allocate_once_newest_first_and_twenty_concurrent_spends_leave_zero(
    membership_service: ServiceFactory, emulator: Emulator, deliverer: EmulatorEvents
) -> None:
    user, group = unique("user"), unique("group")
    price = await emulator.price()
    async with membership_service() as service:
        sub = await emulator.subscribe(user, group, "gold", price, **CREDITS)
        first_cycle = await deliverer.take()
        await emulator.advance(sub)
        await deliverer.forward()  # the renewal arrives before the first payment
        await service.settle()
        assert (await service.gate(user, group))["credits"] == {"booking": 10, "guest": 2}
        assert (await _spend(service.http, user, group, 4)).status_code == 200

        await deliverer.publish(first_cycle)
        await service.settle()
        gate = await service.gate(user, group)
        assert gate["active"] is True
        assert gate["credits"] == {"booking": 6, "guest": 2}, "an older cycle changed nothing"
        assert await _allocations_applied(service, user) == [False, True]

        await emulator.advance(sub)
        await deliverer.forward()
        await service.settle()
        assert (await service.gate(user, group))["credits"] == {"booking": 10, "guest": 2}

        answers = await asyncio.gather(
            *(_spend(service.http, user, group, key=f"k{i}") for i in range(20))
        )
        assert sorted(a.status_code for a in answers) == [200] * 10 + [409] * 10
        refused = [a.json()["error"] for a in answers if a.status_code == 409]
        assert {e["code"] for e in refused} == {"insufficient_credits"}
        assert (await service.gate(user, group))["credits"] == {"booking": 0, "guest": 2}

        await _replays_answer_the_same(service, user, group, answers)

        await deliverer.publish(await deliverer.all(), copy=":again")
        await service.settle()
        assert (await service.gate(user, group))["credits"] == {"booking": 0, "guest": 2}
        assert await _allocations_applied(service, user) == [False, True, True]

        history = await _history(service, user, group, kind="booking", limit=7)
        assert [e["type"] for e in history] == ["spent"] * 10 + [
            "allocated",
            "expired",
            "spent",
            "allocated",
        ]
        assert [e["balance_after"] for e in history[-4:]] == [10, 0, 6, 10]
        assert history[-3]["delta"] == -6 and history[-2]["delta"] == -4


async def _allocations_applied(service: Service, user: str) -> list[bool]:
    """Whether each recorded paid cycle of the user was applied, oldest cycle first."""
    t = orm.credit_allocations
    async with service.engine.connect() as conn:
        rows = await conn.execute(
            select(t.c.applied).where(t.c.user_id == user).order_by(t.c.cycle_start)
        )
    return [r.applied for r in rows]


async def _replays_answer_the_same(
    service: Service, user: str, group: str, answers: list[httpx.Response]
) -> None:
    """The same key gets the same answer, success or refusal; another body with it is a 422."""
    for i, answer in enumerate(answers):
        sent = json.loads(answer.request.content)
        again = await _spend(service.http, user, group, key=f"k{i}", reference=sent["reference"])
        assert (again.status_code, again.json()) == (answer.status_code, answer.json())
    reused = await _spend(service.http, user, group, key="k0", reference="something else")
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "idempotency_key_reused"


async def test_a_one_time_membership_gets_its_credits_on_payment_and_only_members_spend(
    membership_service: ServiceFactory, emulator: Emulator, deliverer: EmulatorEvents
) -> None:
    user, group = unique("user"), unique("group")
    price = await emulator.price(interval=None, amount=9900)
    async with membership_service() as service:
        await emulator.buy_annual(user, group, "annual", price, credit_allowances="booking=3")
        await deliverer.forward()
        await service.settle()
        assert (await service.gate(user, group))["credits"] == {"booking": 3}

        own = await _spend(service.http, user, group, 2, token=user_token(user))
        assert own.status_code == 200, own.text
        assert (own.json()["balance"], own.json()["amount"]) == (1, 2)
        same_reference = await _spend(
            service.http, user, group, 2, reference=own.json()["reference"]
        )
        assert same_reference.json() == own.json(), "without a key the reference is the key"
        short = await _spend(service.http, user, group, 2)
        assert short.status_code == 409
        assert short.json()["error"]["details"] == {"kind": "booking", "balance": 1}

        other = await _spend(service.http, user, group, token=user_token(unique("user")))
        assert other.status_code == 403
        stranger = await _spend(service.http, unique("user"), group)
        assert (stranger.status_code, stranger.json()["error"]["code"]) == (409, "not_a_member")
        assert (await _spend(service.http, user, group, 0)).status_code == 422
        assert (await _spend(service.http, user, group, kind="Bad Kind")).status_code == 422

        organizer = user_token("org", roles=["organizer"], groups=[group])
        page = await service.http.get(
            f"/entitlements/{user}/groups/{group}/credits/history", headers=bearer(organizer)
        )
        assert [e["type"] for e in page.json()["items"]] == ["spent", "allocated"]
        assert page.json()["items"][1]["cause"].startswith("cs_")
