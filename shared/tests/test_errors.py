"""Domain errors answer by the service's one STATUS map, the same from a fast route and from the
app's routes: the nearest mapped class's status and code, the error's own code, details and
Retry-After when it has them, and 500 when no class of it is mapped."""

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from tollgate_shared.contracts.errors import DomainError
from tollgate_shared.infra.settings import ServiceSettings
from tollgate_shared.infra.stripe_budget import StripeBusy
from tollgate_shared.testing import serve_app
from tollgate_shared.web.errors import ErrorStatus
from tollgate_shared.web.fast_path import FastRequest, FastRoute
from tollgate_shared.web.http import create_app


class ShopError(DomainError):
    pass


class SoldOut(ShopError):
    pass


class LastOneSoldOut(SoldOut):
    """Not mapped itself: answers as `SoldOut`."""


class Closed(ShopError):
    pass


class Unmapped(DomainError):
    pass


STATUS = {
    ShopError: ErrorStatus(400, "shop_error"),
    SoldOut: ErrorStatus(409, "sold_out"),
    Closed: ErrorStatus(503, "closed"),
}

RAISED = {
    "sold-out": SoldOut("nothing left"),
    "last-one": LastOneSoldOut("the last one went", code="last_one_sold", details={"left": 0}),
    "closed": Closed("back at nine", retry_after=30),
    "other": ShopError("no"),
    "unmapped": Unmapped("nobody maps me"),
    "busy": StripeBusy("Stripe budget spent for POST /v1/checkout/sessions", retry_after=2.4),
}


class Buy(FastRoute):
    METHOD = "POST"
    PATH = re.compile(r"/fast/(?P<case>[a-z-]+)")

    async def answer(self, request: FastRequest) -> bytes:
        raise RAISED[request.params["case"]]


@asynccontextmanager
async def shop() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ServiceSettings(), title="shop", fast_routes=[Buy()], error_status=STATUS)

    @app.post("/app/{case}")
    async def buy(case: str) -> None:
        raise RAISED[case]

    async with serve_app(app) as url, httpx.AsyncClient(base_url=url) as client:
        yield client


@pytest.mark.parametrize("route", ["fast", "app"])
async def test_domain_errors_answer_by_the_status_map(route: str) -> None:
    async with shop() as http:

        async def error(case: str) -> tuple[int, dict[str, object], httpx.Headers]:
            answer = await http.post(f"/{route}/{case}")
            return answer.status_code, answer.json()["error"], answer.headers

        status, body, _ = await error("sold-out")
        assert (status, body) == (409, {"code": "sold_out", "message": "nothing left"})

        status, body, _ = await error("last-one")
        assert status == 409
        assert body == {
            "code": "last_one_sold",
            "message": "the last one went",
            "details": {"left": 0},
        }

        status, body, headers = await error("closed")
        assert (status, body["code"], headers["retry-after"]) == (503, "closed", "30")

        status, body, headers = await error("other")
        assert (status, body["code"]) == (400, "shop_error")
        assert "retry-after" not in headers

        status, body, _ = await error("unmapped")
        assert (status, body) == (500, {"code": "internal_error", "message": "internal error"})

        # The account's Stripe budget stayed spent longer than a request waits for a slot.
        status, body, headers = await error("busy")
        assert (status, body["code"], headers["retry-after"]) == (503, "payments_busy", "3")
