"""Every list pages through all its rows exactly once, newest first, rows that share a
timestamp included, whatever is added while paging; the last page says there is no next page."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from ledger.adapters import orm
from ledger.domain.attribution import Attribution
from ledger.domain.payments import Payment
from ledger.service_layer.unit_of_work import LedgerUnitOfWork as Unit
from tollgate_shared.persistence.pagination import encode_cursor
from tollgate_shared.testing import cursor_pages, sessions_on, unique

from .conftest import auth, token

START = datetime(2026, 3, 1, tzinfo=UTC)


def instants(count: int, start: datetime = START) -> list[datetime]:
    """`count` creation times, three in each second: rows that tie on their timestamp."""
    return [start + timedelta(seconds=n // 3) for n in range(count)]


def newest_first(rows: list[tuple[datetime, str]]) -> list[str]:
    """Ids in the lists' order: creation time, then id, both descending."""
    return [row_id for _, row_id in sorted(rows, reverse=True)]


def flat(pages: list[list[dict[str, Any]]], key: str) -> list[Any]:
    return [row[key] for page in pages for row in page]


async def book_payments(
    ledger_url: str,
    group: str,
    at: list[datetime],
    *,
    user_id: str | None = None,
    email: str | None = None,
) -> list[tuple[datetime, str]]:
    """Payments booked to `group`, created at `at`: their (created_at, charge id)."""
    payments = [
        Payment(
            charge_id=unique("ch"),
            attribution=Attribution(group_id=group, user_id=user_id),
            amount=1000,
            fee=30,
            currency="usd",
            created_at=created,
            email=email,
        )
        for created in at
    ]
    async with sessions_on(ledger_url) as sessions, Unit(sessions) as uow:
        for payment in payments:
            await uow.books.post(*payment.transactions(), causation_id=None, payment=payment)
        await uow.commit()
    return [(p.created_at, p.charge_id) for p in payments]


async def test_payments_page_through_every_row_once_with_the_search_kept(
    ledger: httpx.AsyncClient, ledger_url: str
) -> None:
    group = unique("grp")
    plain = await book_payments(ledger_url, group, instants(7))
    found = await book_payments(ledger_url, group, instants(8), email=f"{group}@example.com")

    pages = await cursor_pages(
        ledger, "/payments", limit=3, params={"group_id": group}, headers=auth()
    )
    assert [len(page) for page in pages] == [3, 3, 3, 3, 3]
    assert flat(pages, "charge_id") == newest_first(plain + found)

    searched = await cursor_pages(
        ledger, "/payments", limit=3, params={"q": f"{group}@example"}, headers=auth()
    )
    assert flat(searched, "charge_id") == newest_first(found)
    organizer = auth(sub=unique("org"), roles=("organizer",), groups=(group,))
    mine = await cursor_pages(ledger, "/payments", limit=4, headers=organizer)
    assert flat(mine, "charge_id") == newest_first(plain + found)


async def test_a_members_payments_page_through_every_row_once(
    ledger: httpx.AsyncClient, ledger_url: str
) -> None:
    user = unique("u")
    booked = await book_payments(ledger_url, unique("grp"), instants(8), user_id=user)
    booked += await book_payments(ledger_url, unique("grp"), instants(2), user_id=user)
    pages = await cursor_pages(
        ledger,
        f"/users/{user}/payments",
        limit=5,
        items="payments",
        headers=auth(sub=user, roles=()),
    )
    assert [len(page) for page in pages] == [5, 5]
    assert flat(pages, "charge_id") == newest_first(booked)


async def test_payments_added_while_paging_neither_skip_nor_repeat_a_row(
    ledger: httpx.AsyncClient, ledger_url: str
) -> None:
    group = unique("grp")
    older = await book_payments(ledger_url, group, instants(9))
    first = (await ledger.get(f"/payments?group_id={group}&limit=4", headers=auth())).json()
    assert [row["charge_id"] for row in first["data"]] == newest_first(older)[:4]
    edge = next(row for row in older if row[1] == first["data"][-1]["charge_id"])
    # Newer payments, and more at the very instant of the page's last row.
    await book_payments(ledger_url, group, instants(3, START + timedelta(days=1)))
    late = await book_payments(ledger_url, group, [edge[0]] * 4)
    rest = await cursor_pages(
        ledger,
        "/payments",
        limit=4,
        params={"group_id": group, "cursor": first["next_cursor"]},
        headers=auth(),
    )
    assert flat(rest, "charge_id") == newest_first([row for row in older + late if row < edge])


async def test_the_consoles_payments_list_pages_through_a_search(
    ledger: httpx.AsyncClient, ledger_url: str
) -> None:
    group = unique("grp")
    booked = await book_payments(ledger_url, group, instants(53), email=f"{group}@example.com")
    await book_payments(ledger_url, unique("grp"), instants(3))  # not found by the search
    seen: list[str] = []
    async with httpx.AsyncClient(base_url=ledger.base_url) as browser:
        browser.cookies.set("ledger_token", token())
        url: str | None = f"/console/payments?q={group}"
        while url is not None:
            page = await browser.get(url)
            assert page.status_code == 200
            seen += re.findall(r'<a href="/console/payments/(ch_\w+)">', page.text)
            older = re.search(r'<a id="next" href="(\?q=[^"]*&amp;cursor=[\w-]+)">Older', page.text)
            link = older.group(1).replace("&amp;", "&") if older else None
            url = f"/console/payments{link}" if link else None
            assert link is None or f"q={group}&" in link
    assert seen == newest_first(booked)


async def test_transactions_page_through_every_row_once(
    ledger: httpx.AsyncClient, ledger_url: str
) -> None:
    group = unique("grp")
    await book_payments(ledger_url, group, instants(3))  # a payment and a fee each
    pages = await cursor_pages(ledger, f"/groups/{group}/transactions", limit=2, headers=auth())
    assert [len(page) for page in pages] == [2, 2, 2]
    t = orm.transactions
    async with sessions_on(ledger_url) as sessions, sessions() as session:
        ids = (await session.scalars(select(t.c.id).where(t.c.group_id == group))).all()
    assert flat(pages, "id") == sorted(ids, reverse=True)


async def test_payout_requests_page_through_every_row_once(
    ledger: httpx.AsyncClient, ledger_url: str
) -> None:
    group = unique("grp")
    async with sessions_on(ledger_url) as sessions, Unit(sessions) as uow:
        made = [
            await uow.payouts.add(
                group_id=group,
                amount=100 + n,
                currency="usd",
                requested_by="org",
                created_at=at,
            )
            for n, at in enumerate(instants(7))
        ]
        await uow.commit()
    organizer = auth(sub=unique("org"), roles=("organizer",), groups=(group,))
    pages = await cursor_pages(ledger, f"/groups/{group}/payouts", limit=2, headers=organizer)
    assert [len(page) for page in pages] == [2, 2, 2, 1]
    assert flat(pages, "payout_id") == newest_first(
        [(r["created_at"], r["payout_id"]) for r in made]
    )


async def test_disputes_and_risk_items_page_through_every_row_once(
    ledger: httpx.AsyncClient, ledger_url: str
) -> None:
    group = unique("grp")
    common = {"charge_id": unique("ch"), "group_id": group, "status": "needs_response"}
    made = {
        "dispute_id": [
            {"dispute_id": unique("dp"), "amount": 500, "currency": "usd", "created_at": at}
            for at in instants(5)
        ],
        "risk_id": [
            {"risk_id": unique("issfr"), "kind": "early_fraud_warning", "created_at": at}
            for at in instants(5)
        ],
    }
    async with sessions_on(ledger_url) as sessions, Unit(sessions) as uow:
        for key, table in (("dispute_id", orm.disputes), ("risk_id", orm.risk_items)):
            for values in made[key]:
                await uow.books.upsert_status(table, key, common | values, status_at=1)
        await uow.commit()
    order = {
        key: newest_first([(r["created_at"], r[key]) for r in rows]) for key, rows in made.items()
    }

    organizer = auth(sub=unique("org"), roles=("organizer",), groups=(group, unique("grp")))
    for path, key in (("/disputes", "dispute_id"), ("/risk", "risk_id")):
        pages = await cursor_pages(
            ledger, path, limit=2, params={"group_id": group}, headers=organizer
        )
        assert [len(page) for page in pages] == [2, 2, 1]
        assert flat(pages, key) == order[key]
    newest = (await ledger.get(f"/groups/{group}/risk?limit=2", headers=organizer)).json()
    assert [d["dispute_id"] for d in newest["disputes"]] == order["dispute_id"][:2]
    assert [r["risk_id"] for r in newest["risk"]] == order["risk_id"][:2]


def forged(value: object) -> str:
    """A cursor of any JSON value, encoded as the lists encode theirs."""
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        encode_cursor("2026-03-01"),
        encode_cursor(START, "ch_1", "extra"),
        encode_cursor("yesterday", "ch_1"),
        encode_cursor("2026-03-01T00:00:00", "ch_1"),  # no offset
        encode_cursor(START, "ch_\x00"),
        encode_cursor(START, "ch_\ud800"),
        encode_cursor(START, 7),
        forged({"a": 1}),
        forged([START.isoformat(), ["ch_1"]]),
        forged([START.isoformat(), None]),
    ],
)
async def test_a_cursor_the_list_did_not_hand_out_is_refused(
    ledger: httpx.AsyncClient, cursor: str
) -> None:
    for path in ("/payments", "/users/u_1/payments", "/disputes", "/risk", "/groups/g/payouts"):
        answer = await ledger.get(path, params={"cursor": cursor}, headers=auth())
        assert answer.status_code == 422, (path, answer.text)
        assert answer.json()["error"]["code"] == "invalid_cursor"
    for cursor_text in ("a" * 513, "a b", "a\x00b"):
        answer = await ledger.get("/payments", params={"cursor": cursor_text}, headers=auth())
        assert answer.status_code == 422
