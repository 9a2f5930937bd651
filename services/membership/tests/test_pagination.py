"""Organizers' member lists page through every member exactly once, in user id order, by cursor
(whoever joins while paging) and by offset; the last page says there is no next page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tollgate_shared.testing import cursor_pages, unique

from .conftest import ADMIN, ServiceFactory, bearer, user_token

EXPIRES = (datetime.now(UTC) + timedelta(days=30)).isoformat()


async def grant(http: httpx.AsyncClient, group: str, user: str, tier: str = "gold") -> None:
    body = {"tier_id": tier, "expires_at": EXPIRES, "kind": "comp"}
    answer = await http.put(f"/groups/{group}/grants/{user}", json=body, headers=bearer(ADMIN))
    assert answer.status_code == 200, answer.text


def ids(pages: list[list[dict[str, Any]]]) -> list[str]:
    return [member["user_id"] for page in pages for member in page]


async def test_members_page_through_every_member_once_by_cursor_and_by_offset(
    membership_service: ServiceFactory,
) -> None:
    group = unique("group")
    members = [f"m{n:02}" for n in range(1, 16, 2)]  # m01, m03 ... m15
    organizer = bearer(user_token("org", roles=["organizer"], groups=[group]))
    path = f"/groups/{group}/members"
    async with membership_service() as service:
        http = service.http
        for user in members:
            await grant(http, group, user, tier="gold" if user < "m08" else "silver")

        pages = await cursor_pages(http, path, limit=3, items="items", headers=organizer)
        assert [len(page) for page in pages] == [3, 3, 2]
        assert ids(pages) == members
        silver = await cursor_pages(
            http, path, limit=2, items="items", params={"tier_id": "silver"}, headers=organizer
        )
        assert ids(silver) == [m for m in members if m >= "m08"]

        by_offset = []
        for offset in range(0, 9, 3):
            page = (
                await http.get(path, params={"limit": 3, "offset": offset}, headers=organizer)
            ).json()
            assert page["total"] == len(members)
            by_offset.append(page["items"])
        assert ids(by_offset) == members and by_offset[-1] and len(by_offset[-1]) == 2

        # Members joining while a cursor pages: those before it do not shift the pages.
        first = (await http.get(path, params={"limit": 3}, headers=organizer)).json()
        await grant(http, group, "m00")
        await grant(http, group, "m06")
        await grant(http, group, "m99")
        rest = await cursor_pages(
            http,
            path,
            limit=3,
            items="items",
            params={"cursor": first["next_cursor"]},
            headers=organizer,
        )
        assert ids([first["items"]]) + ids(rest) == [*members[:3], "m06", *members[3:], "m99"]

        forged = await http.get(path, params={"cursor": "bm90LWpzb24"}, headers=organizer)
        assert forged.status_code == 422 and forged.json()["error"]["code"] == "invalid_cursor"
