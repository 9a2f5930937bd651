"""Stripe's request envelope: API keys, rate limits, request ids, idempotency keys and a
request counter."""

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any
from urllib.parse import parse_qsl

from starlette.routing import BaseRoute, Match, Route

from stripe_emulator.emulator import Emulator, RequestInfo, current_request
from stripe_emulator.errors import StripeError
from stripe_emulator.ids import new_id
from stripe_emulator.limits import rate_limited
from stripe_emulator.store import IdempotentResult
from stripe_emulator.wire import parse_pairs

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

KEY_PREFIXES = ("sk_test_", "rk_test_")


class StripeEnvelope:
    """Pure ASGI middleware, so the request context reaches handlers and events."""

    def __init__(self, app: ASGIApp, emulator: Emulator, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.emulator = emulator
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        if not path.startswith("/v1/"):
            if not path.startswith("/_emulator"):
                self._count(method, path)
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        request_id = new_id("req", 14)
        extra_headers = [
            ("request-id", request_id),
            ("stripe-version", headers.get("stripe-version", self.emulator.settings.api_version)),
        ]
        api_key = _api_key(headers.get("authorization", ""))
        if not api_key.startswith(KEY_PREFIXES):
            await _send_error(send, _auth_error(api_key), extra_headers)
            return
        if not self.emulator.limiter.admit(api_key, self._endpoint(scope)):
            retry = [*extra_headers, ("stripe-should-retry", "true")]
            await _send_error(send, rate_limited(), retry)
            return
        self._count(method, path, api_key)  # a 429 never reached the API (`/usage` counts it)
        idempotency_key = headers.get("idempotency-key") if method == "POST" else None
        current_request.set(RequestInfo(request_id, idempotency_key))
        if idempotency_key is None:
            await self.app(scope, receive, _with_headers(send, extra_headers))
            return
        await self._idempotent(scope, receive, send, (api_key, idempotency_key), extra_headers)

    def _count(self, method: str, path: str, api_key: str | None = None) -> None:
        with self.emulator.store.lock:
            self.emulator.store.requests[(method, path)] += 1
            if api_key is not None:
                self.emulator.store.requests_by_key[api_key][(method, path)] += 1

    def _endpoint(self, scope: Scope) -> str:
        """The named operation a request calls, e.g. `GET /v1/charges/{charge_id}`: each has
        its own limit, shared by every id."""
        for route in self.routes:
            if isinstance(route, Route) and route.matches(scope)[0] == Match.FULL:
                return f"{scope['method']} {route.path}"
        return f"{scope['method']} {scope['path']}"

    async def _idempotent(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        key: tuple[str, str],
        extra_headers: list[tuple[str, str]],
    ) -> None:
        body = await _read_body(receive)
        params = parse_pairs(parse_qsl(body.decode(), keep_blank_values=True))
        store = self.emulator.store
        with store.lock:
            saved = store.idempotency.get(key)
            busy = key in store.in_flight
            if saved is None and not busy:
                store.in_flight.add(key)
        if saved is not None:
            if (saved.method, saved.path, saved.params) != (scope["method"], scope["path"], params):
                error = StripeError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters "
                    f"they were first used with. Try using a key other than '{key[1]}' if you "
                    "meant to execute a different request.",
                    type="idempotency_error",
                )
                await _send_error(send, error, extra_headers)
                return
            replay_headers = [*saved.headers, ("idempotent-replayed", "true")]
            await _send_raw(send, saved.status, saved.body, replay_headers, extra_headers)
            return
        if busy:
            error = StripeError(
                409,
                "There is currently another in-progress request using this Stripe token "
                "(probably the same idempotency key). Please try again later.",
                code="idempotency_key_in_use",
            )
            await _send_error(send, error, extra_headers)
            return

        captured: dict[str, Any] = {"body": b""}

        async def replay_body() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = [
                    (k.decode(), v.decode())
                    for k, v in message.get("headers", [])
                    if k.decode().lower() in ("content-type", "original-request")
                ]
            elif message["type"] == "http.response.body":
                captured["body"] += message.get("body", b"")
            await _with_headers(send, extra_headers)(message)

        try:
            await self.app(scope, replay_body, capture)
        finally:
            with store.lock:
                store.in_flight.discard(key)
                status = captured.get("status", 500)
                # Stripe saves a result once the endpoint ran; failed validation is not saved.
                if status < 400 or status == 402:
                    store.idempotency[key] = IdempotentResult(
                        method=scope["method"],
                        path=scope["path"],
                        params=params,
                        status=status,
                        body=captured["body"],
                        headers=[*captured["headers"], ("original-request", extra_headers[0][1])],
                    )


def _api_key(authorization: str) -> str:
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value).decode().split(":", 1)[0]
        except (binascii.Error, UnicodeDecodeError):
            return ""
    return ""


def _auth_error(api_key: str) -> StripeError:
    if not api_key:
        message = (
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth "
            "(e.g. 'Authorization: Bearer YOUR_SECRET_KEY')."
        )
    else:
        message = f"Invalid API Key provided: {api_key[:8]}{'*' * 4}{api_key[-4:]}"
    return StripeError(401, message)


async def _read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        chunk: bytes = message.get("body", b"")
        body += chunk
        if not message.get("more_body"):
            return body


def _with_headers(send: Send, extra: list[tuple[str, str]]) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [
                *message.get("headers", []),
                *((k.encode(), v.encode()) for k, v in extra),
            ]
        await send(message)

    return wrapped


async def _send_raw(
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[str, str]],
    extra: list[tuple[str, str]],
) -> None:
    all_headers = [*headers, *extra, ("content-length", str(len(body)))]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(k.encode(), v.encode()) for k, v in all_headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _send_error(send: Send, error: StripeError, extra: list[tuple[str, str]]) -> None:
    body = json.dumps(error.body()).encode()
    await _send_raw(send, error.status, body, [("content-type", "application/json")], extra)
