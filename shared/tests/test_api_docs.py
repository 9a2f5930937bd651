"""Every service's API documentation: Swagger UI and ReDoc with their assets served by the
service (no CDN), the bearer scheme on routes that authenticate, and every error answer with
the error body and an example of each code the service's error map gives its status."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from tollgate_shared.contracts.errors import DomainError
from tollgate_shared.infra.settings import ServiceSettings
from tollgate_shared.testing import serve_app
from tollgate_shared.web.auth import CurrentUser
from tollgate_shared.web.errors import ErrorStatus, error_responses
from tollgate_shared.web.http import create_app


class SoldOut(DomainError):
    """Every seat of the show is taken."""


@asynccontextmanager
async def shop() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        ServiceSettings(), title="shop", error_status={SoldOut: ErrorStatus(409, "sold_out")}
    )

    @app.post("/seats", status_code=201, responses=error_responses(409))
    async def buy(user: CurrentUser) -> dict[str, str]:
        raise SoldOut("none left")

    @app.get("/shows")
    async def shows() -> list[str]:
        return []

    async with serve_app(app) as url, httpx.AsyncClient(base_url=url) as client:
        yield client


@pytest.mark.parametrize(
    ("page", "assets"),
    [
        ("/docs", ["swagger-ui-bundle.js", "swagger-ui.css"]),
        ("/redoc", ["redoc.standalone.js"]),
    ],
)
async def test_the_docs_pages_load_their_assets_from_the_service(
    page: str, assets: list[str]
) -> None:
    async with shop() as client:
        html = (await client.get(page)).text
        assert "/openapi.json" in html
        assert "cdn" not in html and "fonts.googleapis" not in html
        for asset in assets:
            assert f"/docs-assets/{asset}" in html
            served = await client.get(f"/docs-assets/{asset}")
            assert served.status_code == 200 and len(served.content) > 10_000


async def test_routes_that_authenticate_declare_the_bearer_scheme() -> None:
    async with shop() as client:
        document: dict[str, Any] = (await client.get("/openapi.json")).json()
    scheme = document["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert document["paths"]["/seats"]["post"]["security"] == [{"bearer": []}]
    assert "security" not in document["paths"]["/shows"]["get"]


async def test_error_answers_have_the_error_body_and_an_example_of_each_code() -> None:
    async with shop() as client:
        document: dict[str, Any] = (await client.get("/openapi.json")).json()
        answer = await client.post("/seats", headers={"Authorization": "Bearer nonsense"})
    responses = document["paths"]["/seats"]["post"]["responses"]
    assert {"401", "403", "409", "422", "503"} <= set(responses)
    conflict = responses["409"]["content"]["application/json"]
    assert conflict["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    example = conflict["examples"]["sold_out"]["value"]
    assert example == {"error": {"code": "sold_out", "message": "Every seat of the show is taken."}}
    assert set(conflict["examples"]) == {"conflict", "sold_out"}
    unauthorized = responses["401"]["content"]["application/json"]["examples"]
    assert unauthorized["unauthorized"]["value"]["error"]["code"] == answer.json()["error"]["code"]


async def test_only_the_documentation_assets_are_served() -> None:
    async with shop() as client:
        for name in ("core.py", "..%2F__init__.py", "nothing.js"):
            answer = await client.get(f"/docs-assets/{name}")
            assert answer.status_code == 404
            assert answer.json()["error"]["code"] == "not_found"
