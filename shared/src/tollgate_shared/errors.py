"""The JSON error format of every Tollgate API: `{"error": {"code", "message"}}`."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any, TypeVar

import psycopg
import sqlalchemy.exc
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from tollgate_shared.db import DATABASE_UNAVAILABLE, describe_unavailable

log = structlog.get_logger(__name__)


class ApiError(Exception):
    """An error a route raises on purpose; becomes its status and JSON body."""

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
    kind answers (`tollgate_shared.openapi` gives them all the error body)."""
    return {s: {"description": HTTPStatus(s).phrase} for s in statuses}


F = TypeVar("F", bound=Callable[..., Any])


def may_answer(*statuses: int) -> Callable[[F], F]:
    """Mark a route dependency: every route that uses it may answer these error statuses (the
    OpenAPI document says so; see `tollgate_shared.openapi`)."""

    def mark(dependency: F) -> F:
        dependency.error_statuses = statuses  # type: ignore[attr-defined]
        return dependency

    return mark


BAD_VALUE_ERRORS = (sqlalchemy.exc.DataError, psycopg.DataError)
"""What the database raises for a value it cannot take (NUL in text, an integer beyond its
column, a string beyond its length). Routes validate their input so that this does not happen;
should a value slip through, it is the request's fault: 422, not 500."""


def bad_value_response(exc: Exception, path: str) -> JSONResponse:
    """The answer to a request whose value the database refused (one of `BAD_VALUE_ERRORS`)."""
    log.warning("http.value_refused_by_database", path=path, error=type(exc).__name__)
    return error_response(422, "validation_error", "a value of the request cannot be stored")


RETRY_AFTER_SECONDS = 5
"""When a client should try again after the database was unavailable."""


def unavailable_response(exc: Exception, path: str) -> JSONResponse:
    """The answer to a request whose database could not answer (one of
    `db.DATABASE_UNAVAILABLE`): 503 with `Retry-After`, at once."""
    log.warning("http.database_unavailable", path=path, error=describe_unavailable(exc))
    return error_response(
        503,
        "unavailable",
        "the database is unavailable; try again shortly",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


_STATUS_CODES = {
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


def install_error_handlers(app: FastAPI) -> None:
    """Make every error — ours, FastAPI's validation, routing, and crashes — the JSON format."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(
            exc.status_code, exc.code, exc.message, details=exc.details, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
            for e in exc.errors()
        ]
        return error_response(422, "validation_error", "request is not valid", details=details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "error")
        return error_response(
            exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(sqlalchemy.exc.DataError)
    @app.exception_handler(psycopg.DataError)
    async def _bad_value(request: Request, exc: Exception) -> JSONResponse:
        return bad_value_response(exc, request.url.path)

    async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
        return unavailable_response(exc, request.url.path)

    for unavailable in DATABASE_UNAVAILABLE:
        app.add_exception_handler(unavailable, _unavailable)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("http.unhandled_error", path=request.url.path)
        return error_response(500, "internal_error", "internal error")
