"""What every console page shares: the signed-in session (the bearer token in an HttpOnly,
SameSite=Strict cookie, verified by the API's `TokenVerifier` on every request), the CSRF check
of every form, rendering with the console's security headers, and HTML answers for what goes
wrong under `/console` (the JSON API keeps its JSON errors)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import structlog
from fastapi import FastAPI, Form, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from markupsafe import Markup, escape
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ledger.adapters import groups as group_settings
from ledger.entrypoints.console.wording import FILTERS
from tollgate_shared.web.auth import Principal, TokenVerifier
from tollgate_shared.web.errors import ApiError

log = structlog.get_logger(__name__)

PREFIX = "/console"
COOKIE = "ledger_token"
LOGIN_COOKIE = "ledger_login"
PAGE = 50
"""Rows on a page of a list."""

HERE = Path(__file__).resolve().parent.parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters.update(FILTERS)

SECURITY_HEADERS = {
    # Scripts and styles come from the console's own static route only: no inline script, no
    # CDN; no page may frame it.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

STATIC = {
    "console.css": ("static/console.css", "text/css"),
    "console.js": ("static/console.js", "text/javascript"),
    "uPlot.iife.min.js": ("static/uplot/uPlot.iife.min.js", "text/javascript"),
    "uPlot.min.css": ("static/uplot/uPlot.min.css", "text/css"),
    "uPlot-LICENSE.txt": ("static/uplot/LICENSE", "text/plain"),
}
"""The files `/console/static/{name}` serves (the charting library is uPlot, vendored)."""

CsrfField = Annotated[str, Form(max_length=128)]


def csrf_token(session_key: str) -> str:
    """The CSRF token of the console session (or sign-in form) whose cookie holds
    `session_key`: derived from it one way, so only a page served to that session knows it."""
    return hmac.new(session_key.encode(), b"tollgate-console-csrf", hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class ConsoleSession:
    """A signed-in member of staff, and the token their cookie holds."""

    principal: Principal
    token: str

    @property
    def csrf(self) -> str:
        """This session's CSRF token."""
        return csrf_token(self.token)

    @property
    def groups(self) -> list[str] | None:
        """The groups this session sees: None (all) for admins, else the organizer's."""
        return None if self.principal.is_admin else sorted(self.principal.groups)


class SignInNeeded(Exception):
    """No valid admin or organizer token in the cookie: the page sends to the sign-in form."""


class Refused(Exception):
    """A form that did not come from this session's own page: 403, nothing changed."""


class Missing(Exception):
    """An unknown page, or an object this session may not see: an HTML 404."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


async def signed_in(request: Request) -> ConsoleSession | None:
    """The session of the request's cookie, if its token is a valid admin's or organizer's."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        principal = await verifier.verify(token)
    except ApiError:
        return None
    if not (principal.is_admin or "organizer" in principal.roles):
        return None
    return ConsoleSession(principal, token)


async def staff(request: Request) -> ConsoleSession:
    """The request's signed-in session, else a redirect to the sign-in form. Called first
    thing in a route (not a dependency), so that a malformed request is refused (422) before
    any token is looked at."""
    if (session := await signed_in(request)) is None:
        raise SignInNeeded
    return session


def check_form(request: Request, session_key: str | None, submitted: str) -> None:
    """Refuse a POST that did not come from this session's own page: its CSRF token must
    match, and a browser that names the request's origin must name ours (another port of the
    same host is another origin)."""
    origin = request.headers.get("origin")
    fetch_site = request.headers.get("sec-fetch-site", "same-origin")
    same_origin = fetch_site in ("same-origin", "none") and (
        origin is None or urlsplit(origin).netloc == request.headers.get("host")
    )
    if (
        session_key is not None
        and same_origin
        and hmac.compare_digest(submitted.encode(), csrf_token(session_key).encode())
    ):
        return
    log.warning("console.csrf_refused", path=request.url.path, fetch_site=fetch_site)
    raise Refused


async def page(
    request: Request,
    name: str,
    session: ConsoleSession | None,
    *,
    status_code: int = 200,
    groups: Iterable[str] = (),
    named: bool = True,
    **context: Any,
) -> Response:
    """A console page, with its security headers. The groups it shows (its `group_id`, the
    session's and `groups`) are named as checkout named them (`names`; unless not `named`:
    error pages, which must not wait on a database that may be the error)."""
    principal = session.principal if session else None
    shown = {*groups, *(principal.groups if principal else ())}
    if isinstance(context.get("group_id"), str):
        shown.add(context["group_id"])
    return templates.TemplateResponse(
        request,
        name,
        {
            "session": session,
            "principal": principal,
            "names": await _names(request, shown) if named else {},
            **context,
        },
        status_code=status_code,
        headers=SECURITY_HEADERS,
    )


async def _names(request: Request, group_ids: set[str]) -> dict[str, str]:
    """The names of `group_ids`; none when the database does not answer (a page shows ids
    then, as it does for a group checkout never named)."""
    if not group_ids:
        return {}
    sessions: async_sessionmaker[AsyncSession] = request.app.state.runtime.sessions
    try:
        async with sessions() as db:
            return await group_settings.names(db, group_ids)
    except (SQLAlchemyError, OSError) as exc:
        log.warning("console.names_unavailable", error=type(exc).__name__)
        return {}


@pass_context
def group_name(context: Mapping[str, Any], group_id: str) -> str:
    """A group's name as checkout announced it, else its id."""
    names: Mapping[str, str] = context.get("names") or {}
    return names.get(group_id) or group_id


@pass_context
def group_heading(context: Mapping[str, Any], group_id: str) -> Markup:
    """A group's name with its id beside it (muted), else its id."""
    names: Mapping[str, str] = context.get("names") or {}
    if not names.get(group_id):
        return escape(group_id)
    return Markup('{} <span class="muted group-id">{}</span>').format(names[group_id], group_id)


templates.env.filters.update(group=group_name, group_heading=group_heading)


def static_file(name: str) -> Response:
    """One of the console's static files (`STATIC`), cached for an hour."""
    if name not in STATIC:
        raise Missing("file")
    path, media_type = STATIC[name]
    return FileResponse(
        HERE / path,
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


def to_sign_in() -> RedirectResponse:
    """The answer to a request without a valid session."""
    return RedirectResponse(f"{PREFIX}/login", status_code=303)


async def _problem(request: Request, status_code: int, message: str) -> Response:
    """The HTML page of an error under `/console`."""
    session = await signed_in(request)
    if status_code == 404:
        return await page(
            request, "missing.html", session, status_code=404, what="page", named=False
        )
    try:
        phrase = HTTPStatus(status_code).phrase
    except ValueError:
        phrase = "Error"
    titles = {409: "That could not be done", 503: "Try again shortly"}
    title = titles.get(status_code, phrase)
    return await page(
        request,
        "problem.html",
        session,
        status_code=status_code,
        title=title,
        message=message,
        named=False,
    )


def install(app: FastAPI) -> None:
    """Answer what goes wrong under `/console` with HTML pages: its own refusals, and every
    error the app answers in JSON elsewhere (validation 422, unknown routes 404, domain errors,
    database refusals) as a page with the same status and message."""

    async def sign_in_needed(request: Request, exc: Exception) -> Response:
        return to_sign_in()

    async def refused(request: Request, exc: Exception) -> Response:
        session = await signed_in(request)
        return await page(request, "refused.html", session, status_code=403, named=False)

    async def missing(request: Request, exc: Exception) -> Response:
        what = exc.what if isinstance(exc, Missing) else "page"
        session = await signed_in(request)
        return await page(request, "missing.html", session, status_code=404, what=what, named=False)

    app.add_exception_handler(SignInNeeded, sign_in_needed)
    app.add_exception_handler(Refused, refused)
    app.add_exception_handler(Missing, missing)
    for raised, answer in list(app.exception_handlers.items()):
        if raised not in (SignInNeeded, Refused, Missing):
            app.exception_handlers[raised] = _as_page(answer)


def _as_page(answer: Any) -> Any:
    async def html(request: Request, exc: Exception) -> Response:
        json_answer: Response = await answer(request, exc)
        if not request.url.path.startswith(PREFIX + "/") and request.url.path != PREFIX:
            return json_answer
        try:
            message = json.loads(bytes(json_answer.body))["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = "The request could not be answered."
        if json_answer.status_code == 422:
            message = _invalid(exc) or message
        return await _problem(request, json_answer.status_code, message)

    return html


def _invalid(exc: Exception) -> str | None:
    """Which fields a refused request got wrong, in words (never echoing what was sent)."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return None
    fields = sorted({str(e.get("loc", ("", "?"))[-1]) for e in errors()})
    return f"Not accepted: {', '.join(fields)} (too long, malformed or with control characters)."
