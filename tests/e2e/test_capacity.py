"""Journey 7: more buyers than seats at the same moment get exactly as many memberships as
there are seats."""

import asyncio

from tollgate_shared.testing import unique

SEATS = 3
BUYERS = 7


async def test_concurrent_buyers_get_exactly_capacity_memberships(platform) -> None:
    group = unique("grp")
    organizer = platform.organizer(group)
    tier = await platform.create_tier(group, amount=1500, interval="month", capacity=SEATS)
    buyers = [unique("usr") for _ in range(BUYERS)]

    async def start(user: str):
        return user, await platform.http.post(
            platform.service("checkout") + "/checkout/sessions",
            headers=platform.member(user),
            json={"tier_id": tier["id"]},
        )

    answers = await asyncio.gather(*(start(user) for user in buyers))
    sessions = {user: r.json() for user, r in answers if r.status_code == 201}
    refused = [r for _, r in answers if r.status_code != 201]
    assert len(sessions) == SEATS, [r.text for _, r in answers]
    assert {(r.status_code, r.json()["error"]["code"]) for r in refused} == {(409, "tier_full")}

    paid = await asyncio.gather(*(platform.pay(s["url"]) for s in sessions.values()))
    assert [p.status_code for p in paid] == [303] * SEATS

    async def members() -> dict:
        return await platform.call(
            "GET",
            "membership",
            f"/groups/{group}/members",
            headers=organizer,
            params={"active": "true"},
        )

    async def full() -> dict | None:
        found = await members()
        return found if found["total"] >= SEATS else None

    await platform.until(full, message=f"{SEATS} members")
    await platform.drained()
    found = await members()
    assert found["total"] == SEATS
    assert {m["user_id"] for m in found["items"]} == set(sessions)
    for user in set(buyers) - set(sessions):
        assert not (await platform.gate(user, group))["active"]
    late = await platform.checkout(unique("usr"), {"tier_id": tier["id"]}, expect=409)
    assert late["error"]["code"] == "tier_full"
