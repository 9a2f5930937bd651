"""Per-user rate limits on checkout and purchase claims; CORS only for configured origins."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tollgate_shared.testing import serve_app, unique
from tollgate_shared.web.ratelimit import SlidingWindowLimiter

LIMIT = 3
ALLOWED_ORIGIN = "https://app.example.com"


@pytest.fixture(scope="module")
async def checkout_api(make_app: Callable[..., FastAPI]) -> AsyncIterator[httpx.AsyncClient]:
    app = make_app("checkout", rate_limit_requests=LIMIT, cors_allowed_origins=ALLOWED_ORIGIN)
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as api:
        yield api


async def test_checkout_sessions_are_limited_per_user(
    checkout_api: httpx.AsyncClient, cast: Any
) -> None:
    org, member = cast.organizer.headers(), cast.member.headers()
    created = await checkout_api.post(
        f"/groups/{cast.group_id}/tiers",
        json={"name": "Supporter", "amount": 2000, "currency": "nzd", "interval": "month"},
        headers=org,
    )
    assert created.status_code == 201, created.text
    body = {"tier_id": created.json()["id"]}
    for _ in range(LIMIT):
        response = await checkout_api.post("/checkout/sessions", json=body, headers=member)
        assert response.status_code in (200, 201), response.text

    refused = await checkout_api.post("/checkout/sessions", json=body, headers=member)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60

    other = await checkout_api.post(
        "/checkout/sessions", json=body, headers=cast.other_member.headers()
    )
    assert other.status_code == 201, other.text


async def test_claims_are_limited_per_user(checkout_api: httpx.AsyncClient, cast: Any) -> None:
    member = cast.member.headers()
    for _ in range(LIMIT):
        response = await checkout_api.post(f"/purchases/{unique('cs')}/claim", headers=member)
        assert response.status_code == 404, response.text

    refused = await checkout_api.post(f"/purchases/{unique('cs')}/claim", headers=member)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert "Retry-After" in refused.headers
    other = await checkout_api.post(
        f"/purchases/{unique('cs')}/claim", headers=cast.other_member.headers()
    )
    assert other.status_code == 404


def preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }


async def test_cors_admits_only_configured_origins(checkout_api: httpx.AsyncClient) -> None:
    allowed = await checkout_api.options("/checkout/sessions", headers=preflight(ALLOWED_ORIGIN))
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in allowed.headers

    stranger = await checkout_api.options(
        "/checkout/sessions", headers=preflight("https://evil.example")
    )
    assert stranger.status_code == 400
    assert "access-control-allow-origin" not in stranger.headers
    simple = await checkout_api.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in simple.headers


async def test_no_cross_origin_access_by_default(make_app: Callable[..., FastAPI]) -> None:
    async with (
        serve_app(make_app("webhook-gateway")) as url,
        httpx.AsyncClient(base_url=url) as api,
    ):
        answer = await api.options("/webhooks/stripe", headers=preflight(ALLOWED_ORIGIN))
    assert "access-control-allow-origin" not in answer.headers
    assert answer.status_code == 405


def test_the_window_slides() -> None:
    now = [100.0]
    limiter = SlidingWindowLimiter(2, 60.0, clock=lambda: now[0])
    assert limiter.hit("a") is None
    now[0] = 130.0
    assert limiter.hit("a") is None
    assert limiter.hit("a") == pytest.approx(30.0)
    assert limiter.hit("b") is None
    now[0] = 160.0
    assert limiter.hit("a") is None
    assert limiter.hit("a") == pytest.approx(30.0)
