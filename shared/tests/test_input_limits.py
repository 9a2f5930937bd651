"""Hostile input gets a 4xx in the error format and leaves the connection open: control
characters in the path or query string, ids and integers beyond what can be stored, and, as a
last resort, any value the database refuses; every operation documents the errors it answers."""

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Query
from pydantic import TypeAdapter, ValidationError
from starlette.types import Scope

from tollgate_shared.infra.settings import ServiceSettings
from tollgate_shared.testing import refused_keeping_the_connection, serve_app
from tollgate_shared.web.auth import CurrentUser
from tollgate_shared.web.database import SessionDep, answer_database_errors
from tollgate_shared.web.errors import error_responses
from tollgate_shared.web.fast_path import FastRequest, FastRoute
from tollgate_shared.web.http import create_app
from tollgate_shared.web.validation import Id, Instant, Int64, control_characters_in


def scope(path: str, query: bytes = b"") -> Scope:
    return {"type": "http", "path": path, "query_string": query}


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("9999-12-31T00:00:00Z", True),
        ("0001-01-01T00:00:00Z", True),
        ("9999-12-31T23:59:59-14:00", False),
        ("0001-01-01T00:00:00+14:00", False),
        ("2030-01-01T00:00:00", False),  # no offset
    ],
)
def test_an_instant_has_an_offset_and_falls_in_the_years_1_to_9999_in_utc(
    value: str, valid: bool
) -> None:
    if valid:
        assert TypeAdapter(Instant).validate_python(value)
    else:
        with pytest.raises(ValidationError):
            TypeAdapter(Instant).validate_python(value)


@pytest.mark.parametrize(
    ("path", "query", "where"),
    [
        ("/tiers/a\x00b", b"", "path"),
        ("/tiers/a\nb", b"", "path"),
        ("/tiers/a\x7f", b"", "path"),
        ("/tiers", b"group_id=a%00b", "query"),
        ("/tiers", b"group_id=a%1Fb", "query"),
        ("/tiers", b"q=a%7f", "query"),
        ("/tiers", b"q=%0d%0aSet-Cookie:x", "query"),
        ("/tiers/caf\u00e9", b"q=caf%C3%A9%20%2F%25", None),
        ("/tiers", b"q=%20%2000%7e%80", None),
    ],
)
def test_control_characters_are_found_in_the_decoded_path_and_the_encoded_query(
    path: str, query: bytes, where: str | None
) -> None:
    assert control_characters_in(scope(path, query)) == where


class Store(FastRoute):
    """`POST /fast/{body}` stores `body` in the effects table, as a fast route does its work."""

    METHOD = "POST"
    PATH = re.compile(r"/fast/(?P<body>[^/]+)")

    async def answer(self, request: FastRequest) -> bytes:
        db = request.state.db
        async with db.sessions.begin() as session:
            await session.execute(
                db.effects.insert().values(message_id="fast", body=request.params["body"])
            )
        return b"{}"


@asynccontextmanager
async def service(db: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ServiceSettings(), title="input limits", fast_routes=[Store()])
    answer_database_errors(app)
    app.state.db = db
    app.state.runtime = SimpleNamespace(sessions=db.sessions)

    @app.get("/items/{item_id}", responses=error_responses(404))
    async def item(item_id: Id, offset: Annotated[Int64, Query(ge=0)] = 0) -> int:
        return offset

    @app.get("/me")
    async def me(principal: CurrentUser) -> str:
        return principal.user_id

    @app.post("/store")
    async def store(body: str, session: SessionDep) -> int:
        await session.execute(db.effects.insert().values(message_id="app", body=body))
        await session.commit()
        return len(body)

    async with serve_app(app) as url, httpx.AsyncClient(base_url=url) as client:
        yield client


async def test_control_characters_are_refused_before_any_route(db) -> None:
    async with service(db) as http:
        for url in ("/items/a%00b", "/items/a?offset=%00", "/fast/a%00b", "/nowhere%0a"):
            error = await refused_keeping_the_connection(http, "POST", url)
            assert error["code"] == "validation_error"
        error = await refused_keeping_the_connection(http, "GET", "/items/a?offset=1%0d%0a")
        assert error["message"] == "the query must not contain control characters"


async def test_ids_and_integers_beyond_their_bounds_are_refused(db) -> None:
    async with service(db) as http:
        for url in ("/items/" + "x" * 10_000, f"/items/a?offset={2**63}", "/items/a?offset=-1"):
            error = await refused_keeping_the_connection(http, "GET", url)
            assert error["code"] == "validation_error"


async def test_a_value_the_database_refuses_answers_422_in_routes_and_fast_routes(db) -> None:
    async with service(db) as http:
        for url in ("/store?body=" + "x" * 300, "/fast/" + "x" * 300):
            error = await refused_keeping_the_connection(http, "POST", url)
            assert error == {
                "code": "validation_error",
                "message": "a value of the request cannot be stored",
            }
        assert (await http.post("/store?body=fine")).json() == 4
        assert (await http.post("/fast/fine")).status_code == 200


async def test_every_operation_documents_its_errors_with_the_error_body(db) -> None:
    async with service(db) as http:
        document = (await http.get("/openapi.json")).json()
    body = {"$ref": "#/components/schemas/ErrorBody"}
    item = document["paths"]["/items/{item_id}"]["get"]["responses"]
    assert list(item) == ["200", "404", "422"]
    me = document["paths"]["/me"]["get"]["responses"]
    assert list(me) == ["200", "401", "403", "422", "503"]
    store = document["paths"]["/store"]["post"]["responses"]
    assert list(store) == ["200", "422", "503"]
    health = document["paths"]["/healthz"]["get"]["responses"]
    assert list(health) == ["200", "422"]
    for responses in (item, me, store, health):
        for status, response in responses.items():
            if status != "200":
                content = response["content"]["application/json"]
                assert content["schema"] == body
                examples = content["examples"].items()
                assert all(e["value"]["error"]["code"] == code for code, e in examples)
    assert set(document["components"]["schemas"]["ErrorBody"]["required"]) == {"error"}
    assert "HTTPValidationError" not in document["components"]["schemas"]
