"""Signing in (a bearer token pasted into a form, kept in an HttpOnly, SameSite=Strict cookie)
and out, and the console's static files."""

from __future__ import annotations

import secrets
from typing import Annotated

import structlog
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ledger.entrypoints.console.pages import (
    COOKIE,
    LOGIN_COOKIE,
    PREFIX,
    CsrfField,
    check_form,
    csrf_token,
    page,
    static_file,
    to_sign_in,
)
from tollgate_shared.web.auth import Principal, TokenVerifier
from tollgate_shared.web.errors import ApiError

log = structlog.get_logger(__name__)
router = APIRouter()


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


async def _login_page(request: Request, error: str | None, status_code: int = 200) -> Response:
    key = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)
    answer = await page(
        request,
        "login.html",
        None,
        status_code=status_code,
        error=error,
        csrf_token=csrf_token(key),
    )
    answer.set_cookie(
        LOGIN_COOKIE, key, httponly=True, samesite="strict", secure=_secure(request), max_age=3600
    )
    return answer


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> Response:
    return await _login_page(request, None)


@router.post("/login")
async def login(
    request: Request, token: Annotated[str, Form(max_length=16384)], csrf_token: CsrfField = ""
) -> Response:
    check_form(request, request.cookies.get(LOGIN_COOKIE), csrf_token)
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        principal: Principal | None = await verifier.verify(token.strip())
    except ApiError:
        principal = None
    if principal is None or not (principal.is_admin or "organizer" in principal.roles):
        log.info("console.login_refused")
        return await _login_page(request, "That token is not an admin or organizer token.", 401)
    log.info("console.login", user_id=principal.user_id)
    answer = RedirectResponse(PREFIX, status_code=303)
    answer.set_cookie(
        COOKIE,
        token.strip(),
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        max_age=8 * 3600,
    )
    answer.delete_cookie(LOGIN_COOKIE)
    return answer


@router.post("/logout")
async def logout(request: Request, csrf_token: CsrfField = "") -> Response:
    key = request.cookies.get(COOKIE)
    if key is not None:
        check_form(request, key, csrf_token)
    answer = to_sign_in()
    answer.delete_cookie(COOKIE)
    return answer


@router.get("/static/{name}")
async def static(name: str) -> Response:
    """The console's scripts, styles and the charting library (uPlot), served by the service
    itself: no CDN."""
    return static_file(name)
