"""The JSON error format of every Tollgate API: `{"error": {"code", "message"}}`."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any, NamedTuple, TypeVar

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from tollgate_shared.contracts.errors import DomainError
from tollgate_shared.messaging.message import Postponed

log = structlog.get_logger(__name__)


class ApiError(Exception):
    """An error the HTTP layer raises on purpose (authentication, a malformed request); becomes
    its status and JSON body. What the domain refuses is a `DomainError` instead."""

    status_code = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.status_code = status_code or self.status_code
        self.details = details
        self.headers = headers


class NotFound(ApiError):
    status_code = 404
    code = "not_found"


class Conflict(ApiError):
    status_code = 409
    code = "conflict"


class Unauthorized(ApiError):
    status_code = 401
    code = "unauthorized"


class Forbidden(ApiError):
    status_code = 403
    code = "forbidden"


def error_response(
    status_code: int,
    code: str,
    message: str,
    *,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The one error body every service answers with."""
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status_code, headers=headers)


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    """The body of every error answer."""

    error: ErrorDetail


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """A route's `responses=`: the error statuses it answers beyond those every route of its
    kind answers (`tollgate_shared.web.openapi` gives them all the error body)."""
    return {s: {"description": HTTPStatus(s).phrase} for s in statuses}


F = TypeVar("F", bound=Callable[..., Any])


def may_answer(*statuses: int) -> Callable[[F], F]:
    """Mark a route dependency: every route that uses it may answer these error statuses (the
    OpenAPI document says so; see `tollgate_shared.web.openapi`)."""

    def mark(dependency: F) -> F:
        dependency.error_statuses = statuses  # type: ignore[attr-defined]
        return dependency

    return mark


_DATABASE_PACKAGES = frozenset({"sqlalchemy", "psycopg", "psycopg_pool"})
"""Where the errors `web.database` answers come from."""


class ErrorStatus(NamedTuple):
    """What a domain error answers over HTTP."""

    status: int
    code: str
    """The error code, unless the error names a more specific one (`DomainError.code`)."""


StatusMap = Mapping[type[DomainError], ErrorStatus]
"""A service's domain errors and their answers (its `entrypoints/errors.STATUS`); an error
answers as its nearest mapped class does, and an unmapped one is a crash (500)."""


def _status_of(exc: DomainError, status: StatusMap) -> ErrorStatus | None:
    for cls in type(exc).__mro__:
        if cls in status:
            return status[cls]
    return None


def error_answer(exc: Exception, path: str, status: StatusMap) -> JSONResponse:
    """The answer to a request that raised `exc` (called while it is handled): an `ApiError`'s
    own, a domain error's by `status`, a database error's by `web.database` (422 for a value it
    refused, 503 while it cannot answer), 503 for a spent Stripe budget, else 500."""
    if isinstance(exc, ApiError):
        return error_response(
            exc.status_code, exc.code, exc.message, details=exc.details, headers=exc.headers
        )
    if isinstance(exc, DomainError) and (mapped := _status_of(exc, status)) is not None:
        retry = None if exc.retry_after is None else {"Retry-After": str(exc.retry_after)}
        return error_response(
            mapped.status, exc.code or mapped.code, exc.message, details=exc.details, headers=retry
        )
    if isinstance(exc, Postponed):  # the Stripe budget stays spent longer than a request waits
        retry = {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
        return error_response(503, "payments_busy", "payments are busy, try again", headers=retry)
    if type(exc).__module__.partition(".")[0] in _DATABASE_PACKAGES:
        # Only a service with a database raises these, and only it loads their answers.
        from tollgate_shared.web.database import database_error_answer

        if (answer := database_error_answer(exc, path)) is not None:
            return answer
    log.exception("http.unhandled_error", path=path)
    return error_response(500, "internal_error", "internal error")


DEFAULT_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "unavailable",
}
"""The code of an error the HTTP layer answers by its status alone (no domain error)."""


def install_error_handlers(app: FastAPI, status: StatusMap) -> None:
    """Make every error — the domain's (answered by `status`, the service's one map), the HTTP
    layer's, FastAPI's validation, routing, and crashes — the JSON format (the database's:
    `web.database.answer_database_errors`)."""

    async def _answer(request: Request, exc: Exception) -> JSONResponse:
        return error_answer(exc, request.url.path, status)

    # Below `Exception`, which Starlette answers and then raises again to the server (which
    # logs it and closes the connection): these are answers, not crashes.
    answered: tuple[type[Exception], ...] = (ApiError, Postponed, *status, Exception)
    for raised in answered:
        app.add_exception_handler(raised, _answer)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
            for e in exc.errors()
        ]
        return error_response(422, "validation_error", "request is not valid", details=details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = DEFAULT_CODES.get(exc.status_code, "error")
        return error_response(
            exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None)
        )
