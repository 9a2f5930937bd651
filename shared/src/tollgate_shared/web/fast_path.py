"""Hot routes answered as plain ASGI, before FastAPI's middleware and routing.

On a busy route FastAPI's per-request machinery (its telemetry and error middleware, routing,
dependency solving, validation, responses) costs more CPU than the work itself (see
bench/results). A `FastRoute` answers one method and path itself; the app (`http.ServiceApp`)
asks its fast routes before anything else. The route stays declared in FastAPI too, for the
OpenAPI document and for the requests a fast route leaves to it, and both call the same service
function. Requests with an `Origin` header are left to the app, so that browsers get its CORS
answers; while spans are exported, an app that traces requests leaves out its fast routes.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from starlette.datastructures import State
from starlette.types import Message, Receive, Scope, Send

from tollgate_shared.web.errors import StatusMap, error_answer

_JSON = (b"content-type", b"application/json")
_NAMED_GROUP = re.compile(r"\(\?P<(\w+)>(?:[^()\\]|\\.)*\)")


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


def path_template(path: re.Pattern[str]) -> str:
    """`path` with each named group written `{name}`: `/items/(?P<id>[^/]+)` → `/items/{id}`."""
    return _NAMED_GROUP.sub(r"{\1}", path.pattern)


class FastRoute:
    """Answers `METHOD` requests whose path fully matches `PATH` with the JSON bytes `answer`
    returns (200), or what the app answers to the error it raises (`errors.error_answer`)."""

    METHOD: ClassVar[str]
    PATH: ClassVar[re.Pattern[str]]
    ROUTE: ClassVar[str]
    """The path template its requests are counted under, the same as its FastAPI route's:
    `path_template(PATH)` unless a subclass sets it (a named group holding parentheses)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "PATH" in cls.__dict__ and "ROUTE" not in cls.__dict__:
            cls.ROUTE = path_template(cls.PATH)

    async def answer(self, request: FastRequest) -> bytes:
        """The JSON body of a 200 answer."""
        raise NotImplementedError

    async def serve(
        self, state: State, status: StatusMap, scope: Scope, receive: Receive, send: Send
    ) -> int | None:
        """Answer the request if it is this route's, its domain errors by `status` (the app's),
        and return the status answered; None to leave it to the app."""
        if scope["method"] != self.METHOD:
            return None
        match = self.PATH.fullmatch(scope["path"])
        if match is None:
            return None
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if "origin" in headers:
            return None
        request = FastRequest(state, headers, match.groupdict(), receive)
        try:
            body = await self.answer(request)
        except Exception as exc:
            refusal = error_answer(exc, scope["path"], status)
            await refusal(scope, receive, send)
            return refusal.status_code
        headers_out: list[Any] = [_JSON, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers_out})
        await send({"type": "http.response.body", "body": body})
        return 200
