"""Request-scoped helpers shared by the JSON API and the console."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ledger.service_layer import Deps
from tollgate_shared.web.auth import Principal
from tollgate_shared.web.errors import ApiError, Forbidden, may_answer


def _deps(request: Request) -> Deps:
    deps: Deps = request.app.state.deps
    return deps


@may_answer(503)  # the database does not answer
def _sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.runtime.sessions
    return sessions


LedgerDeps = Annotated[Deps, Depends(_deps)]
Sessions = Annotated[async_sessionmaker[AsyncSession], Depends(_sessions)]
Search = Annotated[
    str | None,
    Query(max_length=320, description="part of a charge, intent or invoice id, email, user, group"),
]


def parse_instant(value: str | None, name: str) -> datetime | None:
    """An ISO date (midnight UTC) or datetime (UTC if naive); 422 otherwise."""
    if not value:
        return None
    try:
        parsed = (
            datetime.fromisoformat(value)
            if "T" in value or " " in value
            else datetime.combine(date.fromisoformat(value), datetime.min.time())
        )
    except ValueError:
        raise ApiError(
            f"`{name}` must be an ISO date or datetime", code="validation_error", status_code=422
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def require_group(principal: Principal, group_id: str) -> None:
    """Admins, or organizers of `group_id`."""
    if not principal.can_manage(group_id):
        raise Forbidden(f"you do not manage group {group_id}")


def visible_groups(principal: Principal) -> list[str] | None:
    """None (all) for admins, else the groups an organizer manages."""
    if principal.is_admin:
        return None
    if "organizer" in principal.roles:
        return sorted(principal.groups)
    raise Forbidden("requires the admin or organizer role")
