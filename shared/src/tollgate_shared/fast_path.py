"""Hot routes answered as plain ASGI, ahead of FastAPI's routing.

On a busy route FastAPI's routing, dependency solving, validation and response machinery cost
more CPU per request than the work itself (see bench/results). A `FastRoute` answers one
method and path itself and hands every other request on to the app; the route stays declared
in FastAPI too, for the OpenAPI document and wherever the middleware is not installed, and both
call the same service function. Install fast routes through `create_app(fast_routes=...)` so
they sit inside CORS and the error middleware.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from starlette.datastructures import State
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tollgate_shared.errors import ApiError, error_response

_JSON = (b"content-type", b"application/json")


@dataclass(frozen=True)
class FastRequest:
    """What a fast route sees of a request."""

    state: State
    """The app's state (settings, runtime, …)."""
    headers: Mapping[str, str]
    """Lower-cased header names."""
    params: Mapping[str, str]
    """The path pattern's named groups."""
    receive: Receive

    async def body(self) -> AsyncIterator[bytes]:
        """The request body, chunk by chunk, as the server receives it."""
        while True:
            message: Message = await self.receive()
            if message["type"] == "http.disconnect":
                return
            yield message.get("body", b"")
            if not message.get("more_body", False):
                return


class FastRoute:
    """Middleware answering `METHOD` requests whose path fully matches `PATH` with the JSON
    bytes `answer` returns (200), or the error body of the `ApiError` it raises."""

    METHOD: ClassVar[str]
    PATH: ClassVar[re.Pattern[str]]

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def answer(self, request: FastRequest) -> bytes:
        """The JSON body of a 200 answer."""
        raise NotImplementedError

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = (
            self.PATH.fullmatch(scope["path"])
            if scope["type"] == "http" and scope["method"] == self.METHOD
            else None
        )
        if match is None:
            await self.app(scope, receive, send)
            return
        request = FastRequest(
            state=scope["app"].state,
            headers={k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]},
            params=match.groupdict(),
            receive=receive,
        )
        try:
            body = await self.answer(request)
        except ApiError as exc:
            response = error_response(
                exc.status_code, exc.code, exc.message, details=exc.details, headers=exc.headers
            )
            await response(scope, receive, send)
            return
        headers: list[Any] = [_JSON, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
