"""Hostile input against every service, each served with its real database and broker: NUL
bytes in paths and queries (the membership gate's fast route included), integers beyond 64
bits, ids of 10,000 characters, unknown locales. Each is refused with a 4xx and the error body,
and the same connection then serves the next request."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tollgate_shared.infra.settings import DEV_JWT_SECRET
from tollgate_shared.testing import refused_keeping_the_connection, serve_app
from tollgate_shared.web.auth import issue_token

ADMIN = {
    "Authorization": "Bearer "
    + issue_token(DEV_JWT_SECRET, sub="hostile-admin", email="h@example.com", roles=["admin"])
}
LONG = "x" * 10_000
HUGE = 2**64
TIER = {"name": "Gold", "amount": 500, "currency": "usd", "interval": "month"}
# Times that fall outside the years 1 to 9999 once in UTC.
BEFORE_YEAR_1, AFTER_YEAR_9999 = "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"

HOSTILE: dict[str, list[tuple[str, str, dict[str, Any]]]] = {
    "webhook-gateway": [
        ("POST", "/webhooks/stripe%00", {}),
        ("POST", "/webhooks/stripe?x=a%00b", {}),
    ],
    "checkout": [
        ("GET", "/tiers/a%00b", {}),
        ("GET", "/tiers?group_id=g%00", {}),
        ("GET", f"/tiers?group_id=g&offset={HUGE}", {}),
        ("GET", f"/tiers/{LONG}", {}),
        ("GET", "/coupons/SAVE10%00/validate?tier_id=t", {}),
        ("GET", "/coupons/SAVE10/validate?tier_id=t%00", {}),
        ("GET", f"/coupons/{LONG}/validate?tier_id=t", {}),
        ("POST", "/groups/g/tiers", {"json": TIER | {"capacity": 2**31}}),
        ("POST", "/groups/g/tiers", {"json": TIER | {"description": "a\x00b"}}),
        ("POST", f"/groups/{LONG}/tiers", {"json": TIER}),
        ("POST", "/checkout/sessions", {"json": {"tier_id": "t\x00"}}),
        (
            "POST",
            "/groups/g/coupons",
            {"json": {"code": "LATE1", "percent_off": 10, "valid_until": AFTER_YEAR_9999}},
        ),
    ],
    "membership": [
        ("GET", "/entitlements/u%00/groups/g", {}),  # the gate's fast route
        ("GET", "/entitlements/u/groups/g%00", {}),
        ("GET", f"/entitlements/{LONG}/groups/g", {}),
        ("GET", f"/groups/g/members?offset={HUGE}", {}),
        ("GET", "/groups/g/members?tier_id=%00", {}),
        ("PUT", "/groups/g/grants/u%00", {"json": {}}),
        ("PUT", f"/groups/g/grants/{LONG}", {"json": {}}),
        (
            "PUT",
            "/groups/g/grants/u",
            {"json": {"tier_id": "t", "expires_at": "2030-01-01T00:00:00Z", "reason": "a\x00"}},
        ),
        ("GET", f"/entitlements/u/groups/g/credits/history?cursor={HUGE}", {}),
        ("PUT", "/groups/g/grants/u", {"json": {"tier_id": "t", "expires_at": BEFORE_YEAR_1}}),
        ("PUT", "/groups/g/grants/u", {"json": {"tier_id": "t", "expires_at": AFTER_YEAR_9999}}),
        ("POST", "/members/u/memberships/g%00/pause", {"json": {}}),
        ("POST", "/members/u/memberships/g/pause", {"json": {"behavior": "void\x00"}}),
        ("POST", "/members/u/memberships/g/pause", {"json": {"resumes_at": AFTER_YEAR_9999}}),
        ("POST", "/members/u/memberships/g/pause", {"json": {"resumes_at": HUGE}}),
        ("POST", "/members/u/memberships/g/switch", {"json": {"tier_id": "t\r\nX-Evil: 1"}}),
        ("POST", "/members/u/memberships/g/switch", {"json": {"tier_id": LONG}}),
    ],
    "ledger": [
        ("GET", "/payments?q=a%00b", {}),
        ("GET", f"/payments?q={LONG}", {}),
        ("GET", f"/payments/{LONG}", {}),
        ("GET", f"/groups/g/transactions?cursor={HUGE}", {}),
        ("POST", "/groups/g/payouts", {"json": {"amount": 2**63, "currency": "usd"}}),
        ("POST", "/payments/ch_1/refunds", {"json": {"amount": HUGE}}),
        # Control characters in the address are refused before any route: JSON, console too.
        ("GET", "/console/payments?q=a%00b", {}),
        ("GET", "/console/groups/g%00", {}),
    ],
    "notifications": [
        ("GET", "/templates/payment_receipt/preview?locale=zz", {}),
        ("GET", "/templates/payment_receipt/preview?locale=xx_YY", {}),
        ("GET", f"/templates/payment_receipt/preview?amount={HUGE}", {}),
        ("GET", "/notifications?user_id=u%00", {}),
        ("GET", f"/notifications?cursor={HUGE}", {}),
        ("GET", f"/notifications/{LONG}", {}),
        ("PUT", "/groups/g/contacts", {"json": {"emails": ["a\x00@example.com"]}}),
    ],
}


@asynccontextmanager
async def served(
    make_app: Callable[..., FastAPI], service: str
) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        serve_app(make_app(service)) as url,
        httpx.AsyncClient(base_url=url, headers=ADMIN) as client,
    ):
        yield client


@pytest.mark.parametrize("service", list(HOSTILE))
async def test_hostile_input_is_refused_with_422_and_the_connection_kept(
    make_app: Callable[..., FastAPI], service: str
) -> None:
    async with served(make_app, service) as http:
        for method, url, request in HOSTILE[service]:
            error = await refused_keeping_the_connection(http, method, url, **request)
            assert error["code"] == "validation_error", (method, url[:80], error)


async def test_the_ledger_consoles_hostile_input_gets_an_html_422_page(
    make_app: Callable[..., FastAPI],
) -> None:
    """The console answers pages, not the API's JSON: refused the same, connection kept."""
    async with served(make_app, "ledger") as http:
        for url in (f"/console/payments/{LONG}", f"/console/groups/{LONG}/members"):
            refused = await http.get(url)
            assert refused.status_code == 422, (url[:80], refused.text[:200])
            assert refused.headers["content-type"].startswith("text/html")
            assert "Not accepted" in refused.text
            assert (await http.get("/healthz")).status_code == 200


async def test_the_gate_answers_after_refusing_on_the_same_connection(
    make_app: Callable[..., FastAPI],
) -> None:
    async with served(make_app, "membership") as http:
        for url in ("/entitlements/u%00/groups/g", f"/entitlements/u/groups/{LONG}"):
            await refused_keeping_the_connection(http, "GET", url, then="/entitlements/u/groups/g")
        gate = await http.get("/entitlements/u/groups/g")
        assert gate.status_code == 200
        assert gate.json()["active"] is False


async def test_a_csv_export_of_any_group_id_names_its_file_in_ascii(
    make_app: Callable[..., FastAPI],
) -> None:
    async with served(make_app, "ledger") as http:
        export = await http.get('/groups/caf\u00e9 "\U0002d212"/transactions.csv')
    assert export.status_code == 200
    assert export.headers["content-disposition"] == (
        "attachment; filename=\"ledger-caf_____.csv\"; filename*=UTF-8''"
        "ledger-caf%C3%A9%20%22%F0%AD%88%92%22.csv"
    )
