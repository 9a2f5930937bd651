"""Fast routes answer before the app's middleware, in the app's error format, and leave to the
app what needs it: browsers' CORS requests, and every request while spans are exported."""

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tollgate_shared.infra.settings import ServiceSettings
from tollgate_shared.observability.tracing import configure_tracing, exported_to
from tollgate_shared.testing import serve_app
from tollgate_shared.web.errors import Forbidden
from tollgate_shared.web.fast_path import FastRequest, FastRoute
from tollgate_shared.web.http import create_app

ORIGIN = "https://app.example.com"


class Echo(FastRoute):
    """Answers `GET /echo/{word}`; "secret" is forbidden and "crash" fails unexpectedly."""

    METHOD = "GET"
    PATH = re.compile(r"/echo/(?P<word>[^/]+)")

    async def answer(self, request: FastRequest) -> bytes:
        word = request.params["word"]
        if word == "secret":
            raise Forbidden("not this word")
        if word == "crash":
            raise RuntimeError("a bug")
        return f'{{"word": "{word}", "by": "fast", "app": "{request.state.name}"}}'.encode()


@asynccontextmanager
async def echo_service(*, request_spans: bool = True) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        ServiceSettings(cors_allowed_origins=ORIGIN),
        title="fast path test",
        request_spans=request_spans,
        fast_routes=[Echo()],
    )
    app.state.name = "echo"

    @app.get("/echo/{word}")
    async def echo(word: str) -> dict[str, str]:
        return {"word": word, "by": "app", "app": "echo"}

    async with serve_app(app) as url, httpx.AsyncClient(base_url=url) as client:
        yield client


async def test_a_fast_route_answers_its_requests_in_the_apps_error_format() -> None:
    async with echo_service() as http:
        ok = await http.get("/echo/hello")
        assert ok.status_code == 200
        assert ok.json() == {"word": "hello", "by": "fast", "app": "echo"}
        assert ok.headers["content-type"] == "application/json"

        forbidden = await http.get("/echo/secret")
        assert forbidden.status_code == 403
        assert forbidden.json() == {"error": {"code": "forbidden", "message": "not this word"}}

        crash = await http.get("/echo/crash")
        assert crash.status_code == 500
        assert crash.json() == {"error": {"code": "internal_error", "message": "internal error"}}

        other_method = await http.post("/echo/hello")
        assert other_method.status_code == 405  # left to the app's routing
        assert (await http.get("/healthz")).status_code == 200


async def test_browsers_cors_requests_are_left_to_the_app() -> None:
    async with echo_service() as http:
        cors = await http.get("/echo/hello", headers={"Origin": ORIGIN})
        assert cors.json()["by"] == "app"
        assert cors.headers["access-control-allow-origin"] == ORIGIN

        preflight = await http.options(
            "/echo/hello",
            headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"},
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == ORIGIN


async def test_while_spans_are_exported_an_app_that_traces_requests_answers_them_itself() -> None:
    configure_tracing("test")
    exporter = InMemorySpanExporter()
    with exported_to(SimpleSpanProcessor(exporter)):
        async with echo_service() as http:
            traced = await http.get("/echo/hello")
        async with echo_service(request_spans=False) as http:
            untraced = await http.get("/echo/hello")
    assert traced.json()["by"] == "app"
    assert any("/echo/" in span.name for span in exporter.get_finished_spans())
    assert untraced.json()["by"] == "fast"
    async with echo_service() as http:  # exporting ended: the fast route again
        assert (await http.get("/echo/hello")).json()["by"] == "fast"
