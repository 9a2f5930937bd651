"""The HTTP side of a service's database: a session per request, and the database's errors in
the JSON error format. Only services with a database import it (the `persistence` extra)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import psycopg
import sqlalchemy.exc
import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from tollgate_shared.persistence.db import DATABASE_UNAVAILABLE, describe_unavailable
from tollgate_shared.web.errors import error_answer, error_response, may_answer

log = structlog.get_logger(__name__)

BAD_VALUE_ERRORS = (sqlalchemy.exc.DataError, psycopg.DataError)
"""What the database raises for a value it cannot take (NUL in text, an integer beyond its
column, a string beyond its length). Routes validate their input so that this does not happen;
should a value slip through, it is the request's fault: 422, not 500."""

RETRY_AFTER_SECONDS = 5
"""When a client should try again after the database was unavailable."""


def database_error_answer(exc: Exception, path: str) -> JSONResponse | None:
    """422 for a value the database refused (one of `BAD_VALUE_ERRORS`), 503 with
    `Retry-After` when it could not answer (one of `db.DATABASE_UNAVAILABLE`); None for any
    other error."""
    if isinstance(exc, BAD_VALUE_ERRORS):
        log.warning("http.value_refused_by_database", path=path, error=type(exc).__name__)
        return error_response(422, "validation_error", "a value of the request cannot be stored")
    if isinstance(exc, DATABASE_UNAVAILABLE):
        log.warning("http.database_unavailable", path=path, error=describe_unavailable(exc))
        return error_response(
            503,
            "unavailable",
            "the database is unavailable; try again shortly",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return None


def answer_database_errors(app: FastAPI) -> None:
    """Make `app` answer the database's errors by `database_error_answer` (`service_app` does
    this for a service with a database)."""

    async def _answer(request: Request, exc: Exception) -> JSONResponse:
        return error_answer(exc, request.url.path, {})

    for raised in (*BAD_VALUE_ERRORS, *DATABASE_UNAVAILABLE):
        app.add_exception_handler(raised, _answer)


@may_answer(503)
async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    sessions = request.app.state.runtime.sessions
    async with sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(_session)]
"""A database session for one request (commit explicitly; rolled back if not)."""
