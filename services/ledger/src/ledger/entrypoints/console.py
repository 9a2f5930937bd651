"""The admin console: server-rendered pages over the same queries as the JSON API.

Signing in stores a bearer token in an HttpOnly, SameSite=Strict cookie; admins see every
group and may refund, organizers see only their groups.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from ledger.adapters import queries
from ledger.domain.errors import LedgerError
from ledger.entrypoints.deps import LedgerDeps, Sessions
from ledger.service_layer.refunds import RefundRequest, request_refund
from tollgate_shared.auth import Principal, verify_token
from tollgate_shared.errors import ApiError

COOKIE = "ledger_token"
router = APIRouter(prefix="/console", include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.filters["money"] = lambda amount, currency: (
    f"{(amount or 0) / 100:,.2f} {(currency or '').upper()}"
)


def _principal(request: Request) -> Principal | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        principal = verify_token(token, request.app.state.settings.auth_jwt_secret)
    except ApiError:
        return None
    return principal if principal.is_admin or "organizer" in principal.roles else None


def _login() -> RedirectResponse:
    return RedirectResponse("/console/login", status_code=303)


def _page(request: Request, name: str, principal: Principal | None, **context: Any) -> Response:
    return templates.TemplateResponse(request, name, {"principal": principal, **context})


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> Response:
    return _page(request, "login.html", None, error=None)


@router.post("/login")
async def login(request: Request, token: Annotated[str, Form()]) -> Response:
    try:
        principal = verify_token(token.strip(), request.app.state.settings.auth_jwt_secret)
    except ApiError:
        principal = None
    if principal is None or not (principal.is_admin or "organizer" in principal.roles):
        return _page(
            request, "login.html", None, error="That token is not an admin or organizer token."
        )
    answer = RedirectResponse("/console/payments", status_code=303)
    answer.set_cookie(COOKIE, token.strip(), httponly=True, samesite="strict", max_age=8 * 3600)
    return answer


@router.post("/logout")
async def logout() -> Response:
    answer = _login()
    answer.delete_cookie(COOKIE)
    return answer


def _groups(principal: Principal) -> list[str] | None:
    return None if principal.is_admin else sorted(principal.groups)


@router.get("/payments", response_class=HTMLResponse)
async def payments(
    request: Request, sessions: Sessions, q: str | None = None, cursor: str | None = None
) -> Response:
    if (principal := _principal(request)) is None:
        return _login()
    async with sessions() as session:
        found = await queries.payments_page(
            session, limit=50, before=cursor, groups=_groups(principal), search=q
        )
    next_cursor = found[-1]["charge_id"] if len(found) == 50 else None
    return _page(
        request, "payments.html", principal, payments=found, q=q or "", next_cursor=next_cursor
    )


async def _detail_page(
    request: Request, sessions: Sessions, principal: Principal, charge_id: str, **context: Any
) -> Response:
    async with sessions() as session:
        detail = await queries.payment_detail(session, charge_id)
    if detail is None or not principal.can_manage(detail["group_id"]):
        return _page(request, "missing.html", principal, what=f"payment {charge_id}")
    return _page(
        request, "payment.html", principal, p=detail, form_token=uuid.uuid4().hex, **context
    )


@router.get("/payments/{charge_id}", response_class=HTMLResponse)
async def payment(
    request: Request, charge_id: str, sessions: Sessions, refund: str | None = None
) -> Response:
    if (principal := _principal(request)) is None:
        return _login()
    notice = "Refund requested; it shows here once Stripe confirms it." if refund else None
    return await _detail_page(request, sessions, principal, charge_id, notice=notice, error=None)


@router.post("/payments/{charge_id}/refund")
async def refund(
    request: Request,
    charge_id: str,
    deps: LedgerDeps,
    sessions: Sessions,
    form_token: Annotated[str, Form(max_length=64)],
    amount: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    if (principal := _principal(request)) is None:
        return _login()
    error = None
    if not principal.is_admin:
        error = "Only admins can refund."
    elif amount.strip() and not (amount.strip().isdigit() and int(amount) > 0):
        error = "The amount must be a positive whole number of cents."
    elif reason not in ("", "requested_by_customer", "duplicate", "fraudulent"):
        error = "Unknown reason."
    if error is None:
        try:
            await request_refund(
                deps,
                sessions,
                RefundRequest(
                    charge_id=charge_id,
                    amount=int(amount) if amount.strip() else None,
                    reason=reason or None,
                    note=note or None,
                    requested_by=principal.user_id,
                    client_key=form_token,
                ),
            )
        except LedgerError as exc:
            error = str(exc)
        else:
            return RedirectResponse(
                f"/console/payments/{charge_id}?refund=requested", status_code=303
            )
    return await _detail_page(request, sessions, principal, charge_id, notice=None, error=error)


@router.get("/disputes", response_class=HTMLResponse)
async def disputes(request: Request, sessions: Sessions) -> Response:
    if (principal := _principal(request)) is None:
        return _login()
    async with sessions() as session:
        groups = _groups(principal)
        found = await queries.disputes_list(session, groups=groups, limit=100)
        risk = await queries.risk_list(session, groups=groups, limit=100)
    return _page(request, "disputes.html", principal, disputes=found, risk=risk)


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
    request: Request, group_id: str, sessions: Sessions, bucket: str = "day"
) -> Response:
    if (principal := _principal(request)) is None:
        return _login()
    if not principal.can_manage(group_id):
        return _page(request, "missing.html", principal, what=f"group {group_id}")
    bucket = bucket if bucket in ("day", "week", "month") else "day"
    async with sessions() as session:
        totals = await queries.summary(session, group_id, None, None)
        series = await queries.revenue_series(session, group_id, bucket=bucket)
    charts = {
        currency: _chart([p for p in series if p["currency"] == currency])
        for currency in sorted({p["currency"] for p in series})
    }
    return _page(
        request,
        "group.html",
        principal,
        group_id=group_id,
        totals=totals,
        charts=charts,
        bucket=bucket,
    )
