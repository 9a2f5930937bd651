"""The gate's answers and who may ask; admin grants; organizers' member lists."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from tollgate_shared.testing import unique

from .conftest import ADMIN, SERVICE, ServiceFactory, bearer, user_token


async def test_gate_answers_inactive_and_checks_who_asks(
    membership_service: ServiceFactory,
) -> None:
    user, group = unique("user"), unique("group")
    path = f"/entitlements/{user}/groups/{group}"
    organizer = user_token("org", roles=["organizer"], groups=[group])
    other_organizer = user_token("org2", roles=["organizer"], groups=[unique("group")])
    async with membership_service() as service:
        http = service.http
        assert (await http.get(path)).status_code == 401
        assert (await http.get(path, headers=bearer("not-a-jwt"))).status_code == 401
        for token in (user_token(user), SERVICE, ADMIN, organizer):
            response = await http.get(path, headers=bearer(token))
            assert response.status_code == 200, response.text
            assert response.json()["active"] is False
            assert response.json()["tier_id"] is None
        for token in (user_token(unique("user")), other_organizer):
            response = await http.get(path, headers=bearer(token))
            assert response.status_code == 403
            assert response.json()["error"]["code"] == "forbidden"
        everything = await http.get(f"/entitlements/{user}", headers=bearer(user_token(user)))
        assert everything.json() == {"user_id": user, "memberships": []}
        assert (
            await http.get(f"/entitlements/{user}", headers=bearer(user_token(unique("u"))))
        ).status_code == 403


async def test_concurrent_gate_reads_are_coalesced_and_each_gets_its_own_member(
    membership_service: ServiceFactory,
) -> None:
    group = unique("group")
    members = [unique("user") for _ in range(12)]
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    async with membership_service() as service:
        for i, user in enumerate(members[::2]):  # every other member holds a grant of a tier
            body = {"tier_id": f"tier-{i}", "expires_at": expires, "kind": "comp"}
            granted = await service.http.put(
                f"/groups/{group}/grants/{user}", json=body, headers=bearer(ADMIN)
            )
            assert granted.status_code == 200, granted.text
        reads = service.app.state.gate_reads
        before = reads.fetches

        answers = await asyncio.gather(*(service.gate(user, group) for user in members * 5))

        assert reads.fetches - before < len(answers)  # several reads shared a statement
        for user, answer in zip(members * 5, answers, strict=True):
            index = members.index(user)
            assert answer["user_id"] == user and answer["group_id"] == group
            assert answer["active"] is (index % 2 == 0)
            assert answer["tier_id"] == (f"tier-{index // 2}" if index % 2 == 0 else None)


async def test_grants_are_idempotent_and_show_in_the_gate(
    membership_service: ServiceFactory,
) -> None:
    user, group = unique("user"), unique("group")
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    body = {"tier_id": "comp", "expires_at": expires, "kind": "comp", "email": "c@example.com"}
    grant_path = f"/groups/{group}/grants/{user}"
    async with membership_service() as service:
        http = service.http
        forbidden = await http.put(grant_path, json=body, headers=bearer(user_token(user)))
        assert forbidden.status_code == 403
        invalid = await http.put(
            grant_path, json={**body, "expires_at": "2030-01-01T00:00:00"}, headers=bearer(ADMIN)
        )
        assert invalid.status_code == 422
        for _ in range(2):
            response = await http.put(grant_path, json=body, headers=bearer(ADMIN))
            assert response.status_code == 200, response.text
        gate = await service.gate(user, group)
        assert (gate["active"], gate["source"], gate["tier_id"]) == (True, "grant", "comp")
        listed = await http.get(f"/entitlements/{user}", headers=bearer(user_token(user)))
        assert listed.json()["memberships"][0]["source"] == "grant"

        for _ in range(2):
            revoked = await http.delete(grant_path, headers=bearer(ADMIN))
            assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
        assert (await service.gate(user, group))["active"] is False
        missing = await http.delete(f"/groups/{group}/grants/{unique('u')}", headers=bearer(ADMIN))
        assert missing.status_code == 404
        events = await service.events(user)
        assert [e["type"] for e in events] == ["membership.activated", "membership.revoked"]
        assert events[-1]["reason"] == "revoked" and events[0]["email"] == "c@example.com"


async def test_bulk_legacy_grant_with_cutoff_and_cap_and_member_lists(
    membership_service: ServiceFactory,
) -> None:
    group = unique("group")
    cutoff = datetime(2024, 1, 1, tzinfo=UTC)
    members = [
        {"user_id": f"old-{i}", "member_since": (cutoff - timedelta(days=10 * i + 1)).isoformat()}
        for i in range(1, 5)
    ] + [{"user_id": "new-1", "member_since": (cutoff + timedelta(days=1)).isoformat()}]
    body = {
        "tier_id": "legacy",
        "expires_at": (datetime.now(UTC) + timedelta(days=90)).isoformat(),
        "members": members,
        "cutoff": cutoff.isoformat(),
        "cap": 3,
    }
    organizer = user_token("org", roles=["organizer"], groups=[group])
    async with membership_service() as service:
        http = service.http
        answers = [
            (await http.post(f"/groups/{group}/grants/bulk", json=body, headers=bearer(ADMIN)))
            for _ in range(2)
        ]
        assert answers[0].status_code == 200, answers[0].text
        assert answers[0].json() == answers[1].json()
        assert answers[0].json() == {
            "granted": ["old-4", "old-3", "old-2"],
            "skipped": {"new-1": "after_cutoff", "old-1": "over_cap"},
        }

        members_path = f"/groups/{group}/members"
        assert (await http.get(members_path, headers=bearer(user_token("x")))).status_code == 403
        page = await http.get(
            members_path, params={"active": "true", "limit": 2}, headers=bearer(organizer)
        )
        assert page.status_code == 200, page.text
        assert page.json()["total"] == 3
        assert [m["user_id"] for m in page.json()["items"]] == ["old-2", "old-3"]
        assert page.json()["active_per_tier"] == {"legacy": 3}
        rest = await http.get(
            members_path,
            params={"active": "true", "limit": 2, "offset": 2},
            headers=bearer(organizer),
        )
        assert [m["user_id"] for m in rest.json()["items"]] == ["old-4"]
        too_big = await http.get(members_path, params={"limit": 1000}, headers=bearer(organizer))
        assert too_big.status_code == 422


async def test_fast_path_and_documented_route_answer_alike(
    membership_service: ServiceFactory,
) -> None:
    """The gate's ASGI fast path and its FastAPI route give the same answers and errors."""
    user, group = unique("user"), unique("group")
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    grant = {"tier_id": "gold", "expires_at": expires, "kind": "comp"}
    path = f"/entitlements/{user}/groups/{group}"
    answers = []
    for fast_path in (True, False):
        async with membership_service(fast_path=fast_path) as service:
            http = service.http
            put = await http.put(
                f"/groups/{group}/grants/{user}", json=grant, headers=bearer(ADMIN)
            )
            assert put.status_code == 200, put.text
            responses = [
                await http.get(path, headers=bearer(token))
                for token in (SERVICE, user_token(user), user_token(unique("user")), "bad")
            ]
            docs = (await http.get("/openapi.json")).json()
            assert "/entitlements/{user_id}/groups/{group_id}" in docs["paths"]
        answers.append([(r.status_code, r.json()) for r in responses])
    assert answers[0] == answers[1]
    assert [status for status, _ in answers[0]] == [200, 200, 403, 401]
    assert answers[0][0][1]["active"] is True and answers[0][0][1]["tier_id"] == "gold"
