"""Real HTTP servers for tests: an app under uvicorn, requests that must be refused without
closing the connection, and paged lists read to their end."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import uvicorn

from tollgate_shared.infra.process import free_port
from tollgate_shared.infra.settings import ServiceSettings
from tollgate_shared.testing.core import wait_until
from tollgate_shared.web.http_timeouts import http_protocol


@contextlib.asynccontextmanager
async def serve_app(
    app: Any, *, host: str = "127.0.0.1", settings: ServiceSettings | None = None
) -> AsyncIterator[str]:
    """Run an ASGI app under a real uvicorn server on a free port, with the services' HTTP
    protocol and the timeouts of `settings` (default: the environment's); yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=http_protocol(settings or ServiceSettings()),
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        await wait_until(lambda: server.started or task.done(), message="server started")
        if task.done():
            task.result()
            raise RuntimeError("server stopped during start-up")
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await task


def _connection_of(response: httpx.Response) -> tuple[str, int]:
    """The client's end of the connection `response` came over: two responses share it only if
    the server kept the connection open after the first (keep-alive)."""
    address: tuple[str, int] = response.extensions["network_stream"].get_extra_info("client_addr")
    return address


async def refused_keeping_the_connection(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    status: int = 422,
    then: str = "/healthz",
    **request: Any,
) -> dict[str, Any]:
    """Send a request that must be refused: it answers `status` with the error body, and the
    same connection then answers `GET then` with 200 (hostile input neither crashes nor closes
    the connection). The error's code and message."""
    refused = await http.request(method, url, **request)
    assert refused.status_code == status, f"{method} {url[:80]}: {refused.text[:300]}"
    assert "close" not in refused.headers.get("connection", "")
    after = await http.get(then, headers=request.get("headers"))
    assert after.status_code == 200, after.text[:300]
    assert _connection_of(after) == _connection_of(refused), "the connection was closed"
    error: dict[str, Any] = refused.json()["error"]
    assert {"code", "message"} <= set(error)
    return error


async def cursor_pages(
    client: httpx.AsyncClient,
    path: str,
    *,
    limit: int,
    items: str = "data",
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> list[list[Any]]:
    """Every page of a list paged with `limit`, `cursor` and `next_cursor`, following the
    cursor with the same `params`; every page is full but the last, which says there is no next
    page (`next_cursor` null)."""
    query = {**(params or {}), "limit": limit}
    pages: list[list[Any]] = []
    while len(pages) < 1000:
        answer = await client.get(path, params=query, headers=headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        pages.append(body[items])
        if body["next_cursor"] is None:
            assert len(pages[-1]) <= limit and (pages[-1] or len(pages) == 1), pages
            return pages
        assert len(pages[-1]) == limit, f"page {len(pages)} of {path} is not full: {pages}"
        query["cursor"] = body["next_cursor"]
    raise AssertionError(f"{path} went on for 1000 pages")


async def offset_pages(
    client: httpx.AsyncClient,
    path: str,
    *,
    limit: int,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> list[list[Any]]:
    """Every page of a list paged with `limit` and `offset` whose body is the page's rows, up
    to the first page that is not full (the last)."""
    pages: list[list[Any]] = []
    while len(pages) < 1000:
        query = {**(params or {}), "limit": limit, "offset": limit * len(pages)}
        answer = await client.get(path, params=query, headers=headers)
        assert answer.status_code == 200, answer.text
        pages.append(answer.json())
        if len(pages[-1]) < limit:
            return pages
    raise AssertionError(f"{path} went on for 1000 pages")
