"""Every list pages through all its rows exactly once, in order, with `limit` and `offset`:
tiers and items oldest first, coupons and redemptions newest first; a page that is not full
is the last."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from checkout.config import Settings
from checkout.service_layer.unit_of_work import CheckoutUnitOfWork
from tollgate_shared.testing import offset_pages, sessions_on, unique

from .conftest import create_coupon, create_item, create_tier, organizer


def flat(pages: list[list[dict[str, Any]]], key: str = "id") -> list[Any]:
    return [row[key] for page in pages for row in page]


async def test_tiers_and_items_page_oldest_first_every_row_once(api: httpx.AsyncClient) -> None:
    group = unique("group")
    tiers = [(await create_tier(api, group, name=f"Tier {n}"))["id"] for n in range(7)]
    items = [(await create_item(api, group, name=f"Item {n}"))["id"] for n in range(6)]
    params = {"group_id": group}
    for limit, sizes in ((3, [3, 3, 1]), (7, [7, 0])):
        pages = await offset_pages(api, "/tiers", limit=limit, params=params)
        assert [len(page) for page in pages] == sizes and flat(pages) == tiers
    pages = await offset_pages(api, "/items", limit=4, params=params, headers=organizer(group))
    assert [len(page) for page in pages] == [4, 2] and flat(pages) == items


async def test_coupons_page_newest_first_every_row_once(api: httpx.AsyncClient) -> None:
    group = unique("group")
    made = [(await create_coupon(api, group))["id"] for _ in range(5)]
    path = f"/groups/{group}/coupons"
    pages = await offset_pages(api, path, limit=2, headers=organizer(group))
    assert [len(page) for page in pages] == [2, 2, 1]
    assert flat(pages) == made[::-1]


async def test_redemptions_page_newest_first_every_row_once_when_times_tie(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    group = unique("group")
    coupon = await create_coupon(api, group)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    sessions = [
        (start + timedelta(seconds=n // 3), unique("cs")) for n in range(8)
    ]  # three redemptions a second
    async with sessions_on(settings.sqlalchemy_url) as db, CheckoutUnitOfWork(db) as uow:
        for redeemed_at, session_id in sessions:
            await uow.coupons.add_redemption(
                {
                    "stripe_session_id": session_id,
                    "coupon_id": coupon["id"],
                    "user_id": unique("user"),
                    "group_id": group,
                    "amount_discount": 100,
                    "currency": "nzd",
                    "redeemed_at": redeemed_at,
                },
            )
        await uow.commit()
    path = f"/coupons/{coupon['id']}/redemptions"
    pages = await offset_pages(api, path, limit=3, headers=organizer(group))
    assert [len(page) for page in pages] == [3, 3, 2]
    assert flat(pages, "stripe_session_id") == [s for _, s in sorted(sessions, reverse=True)]
