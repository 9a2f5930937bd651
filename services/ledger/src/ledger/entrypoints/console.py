"""The admin console: server-rendered pages over the same queries as the JSON API.

Signing in verifies the bearer token with the service's one `TokenVerifier` (as every API
route does) and keeps it in an HttpOnly, SameSite=Strict cookie; every request verifies it
again. Admins see every group and may refund, organizers see only their groups. Every POST,
signing in included, carries the session's CSRF token and must come from the console's own
origin.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import structlog
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from ledger.adapters import queries
from ledger.domain.errors import LedgerError
from ledger.domain.payments import refund_reason
from ledger.entrypoints.deps import LedgerDeps, Search, Sessions
from ledger.service_layer.refunds import RefundRequest, request_refund
from tollgate_shared.persistence.pagination import Cursor
from tollgate_shared.web.auth import Principal, TokenVerifier
from tollgate_shared.web.errors import ApiError
from tollgate_shared.web.validation import ShortId as Id
from tollgate_shared.web.validation import Text

log = structlog.get_logger(__name__)

COOKIE = "ledger_token"
LOGIN_COOKIE = "ledger_login"
router = APIRouter(prefix="/console", include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.filters["money"] = lambda amount, currency: (
    f"{(amount or 0) / 100:,.2f} {(currency or '').upper()}"
)
CsrfField = Annotated[str, Form(max_length=128)]
PAGE = 50


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


async def _session(request: Request) -> ConsoleSession | None:
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


def _forged(request: Request, session_key: str | None, submitted: str) -> Response | None:
    """The refusal of a POST that did not come from this session's own page, else None: its
    CSRF token must match, and a browser that names the request's origin must name ours
    (another port of the same host is another origin)."""
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
        return None
    log.warning("console.csrf_refused", path=request.url.path, fetch_site=fetch_site)
    return _page(request, "refused.html", None, status_code=403)


def _login() -> RedirectResponse:
    return RedirectResponse("/console/login", status_code=303)


def _page(
    request: Request,
    name: str,
    session: ConsoleSession | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> Response:
    principal = session.principal if session else None
    return templates.TemplateResponse(
        request,
        name,
        {"session": session, "principal": principal, **context},
        status_code=status_code,
    )


def _login_page(request: Request, error: str | None, status_code: int = 200) -> Response:
    key = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)
    answer = _page(
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


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> Response:
    return _login_page(request, None)


@router.post("/login")
async def login(
    request: Request, token: Annotated[str, Form(max_length=16384)], csrf_token: CsrfField = ""
) -> Response:
    if (refusal := _forged(request, request.cookies.get(LOGIN_COOKIE), csrf_token)) is not None:
        return refusal
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        principal: Principal | None = await verifier.verify(token.strip())
    except ApiError:
        principal = None
    if principal is None or not (principal.is_admin or "organizer" in principal.roles):
        log.info("console.login_refused")
        return _login_page(request, "That token is not an admin or organizer token.", 401)
    log.info("console.login", user_id=principal.user_id)
    answer = RedirectResponse("/console/payments", status_code=303)
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
    if key is not None and (refusal := _forged(request, key, csrf_token)) is not None:
        return refusal
    answer = _login()
    answer.delete_cookie(COOKIE)
    return answer


def _groups(principal: Principal) -> list[str] | None:
    return None if principal.is_admin else sorted(principal.groups)


@router.get("/payments", response_class=HTMLResponse)
async def payments(
    request: Request, sessions: Sessions, q: Search = None, cursor: Cursor = None
) -> Response:
    if (session := await _session(request)) is None:
        return _login()
    async with sessions() as db:
        found, next_cursor = await queries.payments_page(
            db, limit=PAGE, cursor=cursor, groups=_groups(session.principal), search=q
        )
    return _page(
        request, "payments.html", session, payments=found, q=q or "", next_cursor=next_cursor
    )


async def _detail_page(
    request: Request, sessions: Sessions, session: ConsoleSession, charge_id: str, **context: Any
) -> Response:
    async with sessions() as db:
        detail = await queries.payment_detail(db, charge_id)
    if detail is None or not session.principal.can_manage(detail["group_id"]):
        return _page(request, "missing.html", session, what=f"payment {charge_id}")
    return _page(request, "payment.html", session, p=detail, form_token=uuid.uuid4().hex, **context)


@router.get("/payments/{charge_id}", response_class=HTMLResponse)
async def payment(
    request: Request, charge_id: Id, sessions: Sessions, refund: str | None = None
) -> Response:
    if (session := await _session(request)) is None:
        return _login()
    notice = "Refund requested; it shows here once Stripe confirms it." if refund else None
    return await _detail_page(request, sessions, session, charge_id, notice=notice, error=None)


@router.post("/payments/{charge_id}/refund")
async def refund(
    request: Request,
    charge_id: Id,
    deps: LedgerDeps,
    sessions: Sessions,
    form_token: Annotated[Id, Form(max_length=64)],
    csrf_token: CsrfField = "",
    amount: Annotated[str, Form(max_length=32)] = "",
    reason: Annotated[str, Form(max_length=64)] = "",
    note: Annotated[Text, Form(max_length=500)] = "",
    confirm: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """A refund asks for confirmation (the same form again with `confirm=yes`) before it is
    sent to Stripe."""
    if (session := await _session(request)) is None:
        return _login()
    if (refusal := _forged(request, session.token, csrf_token)) is not None:
        return refusal
    error = None
    amount = amount.strip()
    if not session.principal.is_admin:
        error = "Only admins can refund."
    elif amount and not (amount.isascii() and amount.isdigit() and 0 < int(amount) < 2**53):
        error = "The amount must be a positive whole number of cents."
    elif reason and refund_reason(reason) is None:
        error = "Unknown reason."
    if error is None and confirm != "yes":
        async with sessions() as db:
            detail = await queries.payment_detail(db, charge_id)
        if detail is None or not session.principal.can_manage(detail["group_id"]):
            return _page(request, "missing.html", session, what=f"payment {charge_id}")
        return _page(
            request,
            "refund_confirm.html",
            session,
            p=detail,
            amount=amount,
            refund_amount=int(amount) if amount else detail["amount"] - detail["refunded"],
            reason=reason,
            note=note,
            form_token=form_token,
        )
    if error is None:
        try:
            await request_refund(
                deps,
                RefundRequest(
                    charge_id=charge_id,
                    amount=int(amount) if amount else None,
                    reason=refund_reason(reason),
                    note=note or None,
                    requested_by=session.principal.user_id,
                    client_key=form_token,
                ),
            )
        except LedgerError as exc:
            error = str(exc)
        else:
            return RedirectResponse(
                f"/console/payments/{charge_id}?refund=requested", status_code=303
            )
    return await _detail_page(request, sessions, session, charge_id, notice=None, error=error)


@router.get("/disputes", response_class=HTMLResponse)
async def disputes(request: Request, sessions: Sessions) -> Response:
    if (session := await _session(request)) is None:
        return _login()
    async with sessions() as db:
        groups = _groups(session.principal)
        found, _ = await queries.disputes_list(db, groups=groups, limit=100)
        risk, _ = await queries.risk_list(db, groups=groups, limit=100)
    return _page(request, "disputes.html", session, disputes=found, risk=risk)


def _chart(series: list[dict[str, Any]], width: int = 640, height: int = 200) -> dict[str, Any]:
    """Bars of gross and net per period, scaled into an SVG viewbox."""
    top = max([abs(p["gross"]) for p in series] + [abs(p["net"]) for p in series] + [1])
    slot = width / max(len(series), 1)
    bars = []
    for i, point in enumerate(series):
        for j, key in enumerate(("gross", "net")):
            h = max(point[key], 0) / top * (height - 20)
            bars.append(
                {
                    "x": round(i * slot + 4 + j * slot / 2.5, 1),
                    "y": round(height - h, 1),
                    "w": round(slot / 2.5 - 2, 1),
                    "h": round(h, 1),
                    "kind": key,
                    "label": f"{point['period']:%Y-%m-%d} {key} {point[key] / 100:,.2f}",
                }
            )
    return {"bars": bars, "width": width, "height": height}


@router.get("/groups/{group_id}", response_class=HTMLResponse)
async def group(
    request: Request, group_id: Id, sessions: Sessions, bucket: str = "day"
) -> Response:
    if (session := await _session(request)) is None:
        return _login()
    if not session.principal.can_manage(group_id):
        return _page(request, "missing.html", session, what=f"group {group_id}")
    bucket = bucket if bucket in ("day", "week", "month") else "day"
    async with sessions() as db:
        totals = await queries.summary(db, group_id, None, None)
        series = await queries.revenue_series(db, group_id, bucket=bucket)
    charts = {
        currency: _chart([p for p in series if p["currency"] == currency])
        for currency in sorted({p["currency"] for p in series})
    }
    return _page(
        request,
        "group.html",
        session,
        group_id=group_id,
        totals=totals,
        charts=charts,
        bucket=bucket,
    )
