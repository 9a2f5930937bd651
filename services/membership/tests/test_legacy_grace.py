"""The legacy grace rule: grandfathered members get N months (6 by default) from their first
sign-in, capped at a cut-off, computed by the service from the first gate read that is the
member's own (or the app's for them) — never typed in per member; past cut-offs are refused."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from membership.domain.model import add_months
from tollgate_shared.testing import unique

from .conftest import ADMIN, SERVICE, Service, ServiceFactory, bearer, user_token


def _at(answer: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(answer["expires_at"])


async def _gate(service: Service, user: str, group: str, token: str) -> dict[str, Any]:
    response = await service.http.get(f"/entitlements/{user}/groups/{group}", headers=bearer(token))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _migrate(service: Service, group: str, users: list[str], **rule: Any) -> Any:
    body = {
        "tier_id": "legacy",
        "members": [{"user_id": u} for u in users],
        "cap": len(users),
        **rule,
    }
    return await service.http.post(f"/groups/{group}/grants/bulk", json=body, headers=bearer(ADMIN))


async def test_access_runs_six_months_from_the_first_sign_in_and_that_date_stays(
    membership_service: ServiceFactory,
) -> None:
    group, user, idle = unique("group"), unique("user"), unique("user")
    cutoff = datetime.now(UTC) + timedelta(days=400)
    organizer = user_token(unique("org"), roles=["organizer"], groups=[group])
    async with membership_service() as service:
        migrated = await _migrate(service, group, [user, idle], cutoff=cutoff.isoformat())
        assert migrated.status_code == 200, migrated.text
        assert sorted(migrated.json()["granted"]) == sorted([user, idle])

        # Looking at a member is not their sign-in: until they sign in, the cut-off holds.
        looked = await _gate(service, user, group, organizer)
        assert looked["active"] is True and _at(looked) == cutoff

        before = datetime.now(UTC)
        signed_in = await _gate(service, user, group, user_token(user))
        after = datetime.now(UTC)
        assert add_months(before, 6) <= _at(signed_in) <= add_months(after, 6)
        assert signed_in["source"] == "grant" and signed_in["tier_id"] == "legacy"

        again = await _gate(service, user, group, SERVICE)
        assert _at(again) == _at(signed_in)
        repeated = await _migrate(service, group, [user, idle], cutoff=cutoff.isoformat())
        assert repeated.json() == migrated.json()
        assert _at(await _gate(service, user, group, ADMIN)) == _at(signed_in)
        assert _at(await _gate(service, idle, group, ADMIN)) == cutoff

        [listed] = (
            await service.http.get(f"/entitlements/{user}", headers=bearer(user_token(user)))
        ).json()["memberships"]
        assert datetime.fromisoformat(listed["expires_at"]) == _at(signed_in)
        assert await service.event_types(user) == ["membership.activated"]


async def test_the_cut_off_caps_the_months_and_the_app_signing_in_counts(
    membership_service: ServiceFactory,
) -> None:
    group, user = unique("group"), unique("user")
    cutoff = datetime.now(UTC) + timedelta(days=30)
    async with membership_service() as service:
        migrated = await _migrate(service, group, [user], cutoff=cutoff.isoformat(), months=3)
        assert migrated.status_code == 200, migrated.text
        answers = await asyncio.gather(*(_gate(service, user, group, SERVICE) for _ in range(8)))
        assert {_at(a) for a in answers} == {cutoff}

        single, solo = unique("user"), {"tier_id": "legacy", "kind": "legacy", "grace_months": 2}
        put = await service.http.put(
            f"/groups/{group}/grants/{single}",
            json=solo | {"expires_at": (datetime.now(UTC) + timedelta(days=365)).isoformat()},
            headers=bearer(ADMIN),
        )
        assert put.status_code == 200, put.text
        assert put.json()["grace_months"] == 2 and put.json()["first_seen_at"] is None
        first = await asyncio.gather(
            *(_gate(service, single, group, user_token(single)) for _ in range(5))
        )
        assert len({_at(a) for a in first}) == 1
        assert _at(first[0]) <= add_months(datetime.now(UTC), 2)


async def test_past_cut_offs_and_mixed_rules_are_refused(
    membership_service: ServiceFactory,
) -> None:
    group, user = unique("group"), unique("user")
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    future = (datetime.now(UTC) + timedelta(days=100)).isoformat()
    async with membership_service() as service:
        for rule in (
            {"cutoff": past},
            {"cutoff": past, "months": 6},
            {"months": 6},
            {"cutoff": future, "months": 0},
            {"cutoff": future, "months": 6, "expires_at": future},
        ):
            refused = await _migrate(service, group, [user], **rule)
            assert refused.status_code == 422, rule
            assert refused.json()["error"]["code"] == "validation_error"
        put = await service.http.put(
            f"/groups/{group}/grants/{user}",
            json={"tier_id": "t", "kind": "comp", "grace_months": 6, "expires_at": future},
            headers=bearer(ADMIN),
        )
        assert put.status_code == 422
        gate = await _gate(service, user, group, user_token(user))
        assert gate["active"] is False
