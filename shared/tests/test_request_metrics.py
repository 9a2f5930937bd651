"""Every request a service answers is counted and timed under its route's path template and its
status, whether a fast route or FastAPI answered it, and whatever path a client makes up."""

import re

import httpx

from tollgate_shared.infra.settings import ServiceSettings
from tollgate_shared.testing import Sample, scrape, serve_app, unique
from tollgate_shared.web.fast_path import path_template
from tollgate_shared.web.http import create_app

from .test_fast_path import Echo

ROUTE = "/echo/{word}"


def requests_by(samples: list[Sample], service: str) -> dict[tuple[str, str, str], float]:
    """`tollgate_http_requests_total` of `service` by (method, route, status)."""
    return {
        (s.labels["method"], s.labels["route"], s.labels["status"]): s.value
        for s in samples
        if s.name == "tollgate_http_requests_total" and s.labels["service"] == service
    }


def timed(samples: list[Sample], service: str) -> dict[tuple[str, str], float]:
    """`tollgate_http_request_seconds_count` of `service` by (method, route)."""
    return {
        (s.labels["method"], s.labels["route"]): s.value
        for s in samples
        if s.name == "tollgate_http_request_seconds_count" and s.labels["service"] == service
    }


async def test_requests_are_counted_by_route_template_and_status() -> None:
    service = unique("svc")
    app = create_app(
        ServiceSettings(service_name=service), title="metrics test", fast_routes=[Echo()]
    )
    app.state.name = "echo"

    @app.get("/echo/{word}")
    async def echo(word: str) -> dict[str, str]:
        return {"by": "app"}

    @app.post("/items/{item_id}/notes")
    async def note(item_id: int) -> dict[str, int]:
        return {"item": item_id}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    async with serve_app(app) as url, httpx.AsyncClient(base_url=url) as http:
        statuses = [
            (await http.get(path)).status_code
            for path in ("/echo/a", "/echo/b", "/echo/secret", "/echo/crash")
        ]
        assert statuses == [200, 200, 403, 500]
        browser = await http.get("/echo/c", headers={"Origin": "https://app.example.com"})
        assert browser.json() == {"by": "app"}  # left to FastAPI: the same route label
        assert (await http.post("/items/7/notes")).status_code == 200
        assert (await http.post("/items/x/notes")).status_code == 422
        assert (await http.get("/items/7/notes")).status_code == 405
        assert (await http.get("/boom")).status_code == 500
        for made_up in ("/nothing/here", "/nothing/else", "/x%01"):
            assert (await http.get(made_up)).status_code in (404, 422)
        assert (await http.request("PROPFIND", "/echo/a")).status_code == 405
        samples = await scrape(http, url)

    assert requests_by(samples, service) == {
        ("GET", ROUTE, "200"): 3,
        ("GET", ROUTE, "403"): 1,
        ("GET", ROUTE, "500"): 1,
        ("POST", "/items/{item_id}/notes", "200"): 1,
        ("POST", "/items/{item_id}/notes", "422"): 1,
        ("GET", "/items/{item_id}/notes", "405"): 1,
        ("GET", "/boom", "500"): 1,
        ("GET", "unmatched", "404"): 2,
        ("GET", "unmatched", "422"): 1,
        ("OTHER", ROUTE, "405"): 1,
    }
    assert timed(samples, service) == {
        ("GET", ROUTE): 5,
        ("POST", "/items/{item_id}/notes"): 2,
        ("GET", "/items/{item_id}/notes"): 1,
        ("GET", "/boom"): 1,
        ("GET", "unmatched"): 3,
        ("OTHER", ROUTE): 1,
    }


def test_a_fast_routes_template_is_its_path_with_named_groups_as_fields() -> None:
    assert Echo.ROUTE == ROUTE
    gate = re.compile(r"/entitlements/(?P<user_id>[^/]{1,255})/groups/(?P<group_id>[^/]+)")
    assert path_template(gate) == "/entitlements/{user_id}/groups/{group_id}"
    assert path_template(re.compile(r"/webhooks/stripe")) == "/webhooks/stripe"
