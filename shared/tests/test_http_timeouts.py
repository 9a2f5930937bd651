"""Slow clients against a real uvicorn server with the services' HTTP protocol: connections
whose request does not arrive in time are closed; prompt requests, keep-alive connections and
slow answers are not affected."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request

from tollgate_shared.infra.settings import ServiceSettings
from tollgate_shared.testing import serve_app

TIMEOUT = 0.5
SETTINGS = ServiceSettings(http_header_timeout_seconds=TIMEOUT, http_body_timeout_seconds=TIMEOUT)
GIVE_UP = 30.0  # a server that never closes fails the test instead of hanging it

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def echo_app() -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"length": len(await request.body())}

    @app.post("/later")
    async def later(request: Request) -> dict[str, int]:
        await asyncio.sleep(TIMEOUT * 3)
        return {"length": len(await request.body())}

    @app.get("/slow")
    async def slow() -> dict[str, bool]:
        await asyncio.sleep(TIMEOUT * 3)
        return {"slow": True}

    return app


@contextlib.asynccontextmanager
async def connection() -> AsyncIterator[Connection]:
    async with serve_app(echo_app(), settings=SETTINGS) as url:
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            yield reader, writer
        finally:
            writer.close()


async def until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends before it closes the connection."""
    return await asyncio.wait_for(reader.read(), GIVE_UP)


async def response(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """The status line and body of one response (the app answers with Content-Length)."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), GIVE_UP)
    status, *headers = head.split(b"\r\n")
    length = next(int(h.split(b":")[1]) for h in headers if h.lower().startswith(b"content-length"))
    return status, await reader.readexactly(length)


async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes) -> int:
    """Send `data` a byte at a time, each well within the timeouts, until the server closes
    the connection; how many bytes went out."""
    for sent, byte in enumerate(data):
        if reader.at_eof():
            return sent
        writer.write(bytes([byte]))
        await asyncio.sleep(TIMEOUT / 10)
    return len(data)


def post(body: bytes) -> bytes:
    return b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


async def test_an_idle_new_connection_is_closed() -> None:
    async with connection() as (reader, _):
        assert await until_closed(reader) == b""


async def test_partial_headers_then_silence_are_closed() -> None:
    async with connection() as (reader, writer):
        writer.write(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-")
        assert await until_closed(reader) == b""


async def test_a_trickled_body_is_closed_before_it_is_complete() -> None:
    body = b"x" * 200
    async with connection() as (reader, writer):
        writer.write(post(body)[: -len(body)])
        assert await trickle(reader, writer, body) < len(body)
        assert await until_closed(reader) == b"", "closed without the app's answer"


async def test_trickled_headers_on_a_kept_alive_connection_are_closed() -> None:
    async with connection() as (reader, writer):
        writer.write(post(b"first"))
        assert await response(reader) == (b"HTTP/1.1 200 OK", b'{"length":5}')
        second = post(b"second")
        assert await trickle(reader, writer, second) < len(second)
        assert await until_closed(reader) == b""


async def test_prompt_requests_on_one_connection_outlive_the_timeouts() -> None:
    async with connection() as (reader, writer):
        for i in range(4):  # together longer than either timeout, each request in time
            body = b"y" * (i * 1000)
            request = post(body)
            writer.write(request[:20])
            await asyncio.sleep(TIMEOUT / 5)
            writer.write(request[20:])
            assert await response(reader) == (b"HTTP/1.1 200 OK", b'{"length":%d}' % len(body))
        assert not reader.at_eof()


async def test_a_slow_answer_is_not_a_slow_client() -> None:
    async with connection() as (reader, writer):
        writer.write(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        assert await response(reader) == (b"HTTP/1.1 200 OK", b'{"slow":true}')
        writer.write(post(b"after"))
        assert await response(reader) == (b"HTTP/1.1 200 OK", b'{"length":5}')


async def test_a_body_the_app_reads_late_is_not_a_slow_client() -> None:
    body = b"z" * 1_000_000  # more than uvicorn buffers before it stops reading
    async with connection() as (reader, writer):
        writer.write(post(body).replace(b"/echo", b"/later"))
        assert await response(reader) == (b"HTTP/1.1 200 OK", b'{"length":1000000}')
