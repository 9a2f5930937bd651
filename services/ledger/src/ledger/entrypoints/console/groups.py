"""The landing page, the groups list (admins: every group the ledger knows), and a group's
pages: revenue with its chart, members, declined and failed payments, disputes and risk."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from ledger.adapters import groups as group_settings
from ledger.adapters import overview, queries
from ledger.entrypoints.console.charts import BUCKETS, charts, window
from ledger.entrypoints.console.pages import PAGE, ConsoleSession, Missing, page, staff
from ledger.entrypoints.deps import Search, Sessions
from tollgate_shared.persistence.pagination import Cursor
from tollgate_shared.web.validation import ShortId as Id

router = APIRouter()

Bucket = Literal["day", "week", "month"]
Limit = Annotated[int, Query(ge=1, le=100)]


@router.get("", response_class=HTMLResponse)
async def home(request: Request, sessions: Sessions) -> Response:
    """What this session may see: admins every group (through the groups list) and the payout
    requests awaiting them; organizers their groups with their totals."""
    session = await staff(request)
    async with sessions() as db:
        awaiting = await overview.awaiting_approval(db, session.groups, limit=20)
        mine = sorted(session.principal.groups)
        totals = await overview.group_totals(db, mine) if mine else {}
    shown = [*totals, *(r["group_id"] for r in awaiting)]
    return await page(request, "home.html", session, awaiting=awaiting, totals=totals, groups=shown)


@router.get("/groups", response_class=HTMLResponse)
async def groups(
    request: Request,
    sessions: Sessions,
    q: Search = None,
    cursor: Cursor = None,
    limit: Limit = PAGE,
) -> Response:
    """Admins: every group that booked money, by id, `limit` a page; organizers: theirs; `q`
    matches part of a group's id or name."""
    session = await staff(request)
    async with sessions() as db:
        if session.groups is None:
            found, next_cursor = await overview.groups_page(
                db, limit=limit, cursor=cursor, search=q
            )
        else:
            names = await group_settings.names(db, session.groups)
            part = (q or "").strip().lower()
            found = [g for g in session.groups if part in f"{g}\n{names.get(g, '')}".lower()]
            next_cursor = None
        totals = await overview.group_totals(db, found)
    return await page(
        request,
        "groups.html",
        session,
        groups=found,
        totals=totals,
        q=q or "",
        limit=limit,
        next_cursor=next_cursor,
    )


async def visible_group(sessions: Sessions, session: ConsoleSession, group_id: str) -> None:
    """A group this session may see: an organizer's own (even before anything happened in it),
    or for admins one the ledger knows; else a 404 page."""
    if not session.principal.can_manage(group_id):
        raise Missing(f"group {group_id}")
    if session.principal.is_admin and group_id not in session.principal.groups:
        async with sessions() as db:
            if not await overview.group_known(db, group_id):
                raise Missing(f"group {group_id}")


@router.get("/groups/{group_id}", response_class=HTMLResponse)
async def group(
    request: Request, group_id: Id, sessions: Sessions, bucket: Bucket = "day"
) -> Response:
    """The group's totals and its revenue per day, week or month."""
    session = await staff(request)
    await visible_group(sessions, session, group_id)
    now = datetime.now(UTC)
    async with sessions() as db:
        totals = await queries.summary(db, group_id, None, None)
        points = await queries.revenue_series(
            db, group_id, bucket=bucket, since=window(bucket, now)[0]
        )
    return await page(
        request,
        "group.html",
        session,
        group_id=group_id,
        tab="revenue",
        totals=totals,
        charts=charts(points, bucket, now),
        bucket=bucket,
        buckets=list(BUCKETS),
    )


ListPage = Callable[..., Awaitable[tuple[list[dict[str, Any]], str | None]]]
"""One page of a group's rows, newest or first in order, and the next page's cursor."""


async def _listing(
    request: Request,
    session: ConsoleSession,
    sessions: Sessions,
    group_id: str,
    tab: str,
    rows: ListPage,
    cursor: str | None,
) -> Response:
    """A page of one of a group's lists (`tab`: its template and the rows' name in it)."""
    await visible_group(sessions, session, group_id)
    async with sessions() as db:
        found, next_cursor = await rows(db, group_id, limit=PAGE, cursor=cursor)
    context: dict[str, Any] = {tab: found, "next_cursor": next_cursor}
    return await page(request, f"{tab}.html", session, group_id=group_id, tab=tab, **context)


@router.get("/groups/{group_id}/members", response_class=HTMLResponse)
async def members(
    request: Request, group_id: Id, sessions: Sessions, cursor: Cursor = None
) -> Response:
    """The group's payers, with what and when they paid."""
    session = await staff(request)
    return await _listing(
        request, session, sessions, group_id, "members", overview.members_page, cursor
    )


@router.get("/groups/{group_id}/failures", response_class=HTMLResponse)
async def failures(
    request: Request, group_id: Id, sessions: Sessions, cursor: Cursor = None
) -> Response:
    """The group's declined and failed payments, newest first."""
    session = await staff(request)
    return await _listing(
        request, session, sessions, group_id, "failures", overview.failures_page, cursor
    )


async def _disputes_page(
    request: Request,
    session: ConsoleSession,
    sessions: Sessions,
    groups: list[str] | None,
    cursors: tuple[str | None, str | None],
    **context: Any,
) -> Response:
    async with sessions() as db:
        found, next_disputes = await queries.disputes_list(
            db, groups=groups, limit=PAGE, cursor=cursors[0]
        )
        risk, next_risk = await queries.risk_list(db, groups=groups, limit=PAGE, cursor=cursors[1])
    return await page(
        request,
        "disputes.html",
        session,
        groups=[row["group_id"] for row in [*found, *risk] if row["group_id"]],
        disputes=found,
        risk=risk,
        next_disputes=next_disputes,
        next_risk=next_risk,
        **context,
    )


@router.get("/disputes", response_class=HTMLResponse)
async def disputes(
    request: Request,
    sessions: Sessions,
    disputes_cursor: Cursor = None,
    risk_cursor: Cursor = None,
) -> Response:
    """Every dispute and risk item this session may see, newest first, a page of each."""
    session = await staff(request)
    cursors = (disputes_cursor, risk_cursor)
    return await _disputes_page(request, session, sessions, session.groups, cursors)


@router.get("/groups/{group_id}/disputes", response_class=HTMLResponse)
async def group_disputes(
    request: Request,
    group_id: Id,
    sessions: Sessions,
    disputes_cursor: Cursor = None,
    risk_cursor: Cursor = None,
) -> Response:
    """The group's disputes and risk items, newest first."""
    session = await staff(request)
    await visible_group(sessions, session, group_id)
    cursors = (disputes_cursor, risk_cursor)
    return await _disputes_page(
        request, session, sessions, [group_id], cursors, group_id=group_id, tab="disputes"
    )
