"""Notifications' HTTP API: the admin's view of what was sent, resend, template previews,
and the organizer addresses of a group."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)
from sqlalchemy import Row

from notifications.adapters import directory, notifications_repo
from notifications.domain.model import Kind, Status
from notifications.service_layer import Deps, commands, previews
from tollgate_shared.money import known_locale
from tollgate_shared.persistence.pagination import split_page
from tollgate_shared.web.auth import AdminUser, CurrentUser
from tollgate_shared.web.database import SessionDep
from tollgate_shared.web.errors import Forbidden, NotFound, error_responses
from tollgate_shared.web.validation import Id, Int64, SingleLine

router = APIRouter(tags=["notifications"])

EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$")
MAX_PAGE = 200


def _deps(request: Request) -> Deps:
    deps: Deps = request.app.state.deps
    return deps


NotificationsDeps = Annotated[Deps, Depends(_deps)]
Email = Annotated[Id, StringConstraints(max_length=320)]


def _known_locale(locale: str | None) -> str | None:
    if locale is not None and not known_locale(locale):
        raise ValueError(f"unknown locale {locale}")
    return locale


class NotificationOut(BaseModel):
    id: str
    kind: str
    source_id: str
    recipient: str
    user_id: str | None
    group_id: str | None
    subject: str | None = Field(
        description="null until a notification whose rendering failed is rendered"
    )
    status: str
    attempts: int
    resends: int
    last_error: str | None
    message_id: str
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None

    @classmethod
    def of(cls, row: Row[Any]) -> NotificationOut:
        return cls.model_validate(row._mapping, from_attributes=False)


class NotificationDetail(NotificationOut):
    text_body: str | None
    html_body: str | None


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next (older) page")


class Preview(BaseModel):
    subject: str
    text: str
    html: str


class ContactsIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"emails": ["crew@climbers.example"], "name": "Climbers"}]}
    )

    emails: list[str] = Field(min_length=1, max_length=20)
    name: Annotated[SingleLine, StringConstraints(max_length=200)] | None = Field(
        default=None, description="the group's display name, shown in mail subjects"
    )

    @field_validator("emails")
    @classmethod
    def _valid(cls, emails: list[str]) -> list[str]:
        bad = [e for e in emails if not EMAIL.match(e) or len(e) > 320]
        if bad:
            raise ValueError(f"not email addresses: {bad}")
        return emails


class ContactsOut(BaseModel):
    group_id: str
    name: str | None
    emails: list[str]


@router.get("/notifications", response_model=NotificationPage)
async def list_notifications(
    _: AdminUser,
    session: SessionDep,
    user_id: Id | None = None,
    group_id: Id | None = None,
    recipient: Email | None = None,
    source_id: Id | None = None,
    kind: Kind | None = None,
    status: Status | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    # a sequence number: at most 18 digits, so that it fits a bigint
    cursor: Annotated[str | None, Query(pattern=r"^\d{1,18}$")] = None,
) -> NotificationPage:
    """Notifications, newest first, filtered by user, group, recipient, kind or status."""
    filters = notifications_repo.Filters(
        user_id=user_id,
        group_id=group_id,
        recipient=recipient.lower() if recipient else None,
        source_id=source_id,
        kind=kind,
        status=status,
    )
    rows, last = split_page(
        await notifications_repo.search(
            session, filters, before=int(cursor) if cursor else None, limit=limit + 1
        ),
        limit,
    )
    next_cursor = str(last.seq) if last else None
    return NotificationPage(items=[NotificationOut.of(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/notifications/{notification_id}",
    response_model=NotificationDetail,
    responses=error_responses(404),
)
async def get_notification(
    notification_id: Id, _: AdminUser, session: SessionDep
) -> NotificationDetail:
    """One notification with its rendered bodies."""
    row = await notifications_repo.get(session, notification_id)
    if row is None:
        raise NotFound(f"no notification {notification_id}")
    return NotificationDetail.model_validate(row._mapping)


@router.post(
    "/notifications/{notification_id}/resend",
    response_model=NotificationOut,
    status_code=202,
    responses=error_responses(404),
)
async def resend_notification(
    notification_id: Id, _: AdminUser, session: SessionDep, deps: NotificationsDeps
) -> NotificationOut:
    """Send a sent or failed notification again (a queued one is left as it is)."""
    row = await commands.resend(session, notification_id, mail_domain=deps.settings.mail_domain)
    return NotificationOut.of(row)


@router.get(
    "/templates/{kind}/preview",
    response_model=Preview,
    responses={
        200: {"content": {"text/html": {"schema": {"type": "string"}}}},
        **error_responses(404),
    },
)
async def preview_template(
    kind: Kind,
    _: AdminUser,
    deps: NotificationsDeps,
    amount: Annotated[Int64, Query(ge=0)] = 1250,
    currency: Annotated[str, Query(pattern=r"^[A-Za-z]{3}$")] = "usd",
    locale: Annotated[
        str | None,
        Query(pattern=r"^[A-Za-z]{2,3}(_[A-Za-z]{2,4})?$"),
        AfterValidator(_known_locale),
    ] = None,
    format: Literal["json", "html", "text"] = "json",
) -> Any:
    """A kind rendered with sample data: JSON with subject, text and HTML, or one of them
    (422 for a locale Babel does not know)."""
    try:
        rendered = previews.preview(
            deps.renderer,
            deps.links,
            kind,
            amount=amount,
            currency=currency,
            locale=locale or deps.settings.mail_locale,
        )
    except ValueError as exc:  # Babel: unknown locale or currency
        raise NotFound(str(exc), code="unknown_locale_or_currency") from None
    if format == "html":
        return HTMLResponse(rendered.html)
    if format == "text":
        return HTMLResponse(f"<pre>{rendered.text}</pre>")
    return Preview(subject=rendered.subject, text=rendered.text, html=rendered.html)


def _check_group(principal: CurrentUser, group_id: str) -> None:
    if not principal.can_manage(group_id):
        raise Forbidden(f"you do not manage group {group_id}")


@router.put("/groups/{group_id}/contacts", response_model=ContactsOut)
async def put_contacts(
    group_id: Id, body: ContactsIn, principal: CurrentUser, session: SessionDep
) -> ContactsOut:
    """Set the addresses that receive a group's organizer notifications (replaces them)."""
    _check_group(principal, group_id)
    contacts = await commands.set_contacts(session, group_id, name=body.name, emails=body.emails)
    return ContactsOut(group_id=group_id, name=contacts.name, emails=contacts.emails)


@router.get(
    "/groups/{group_id}/contacts", response_model=ContactsOut, responses=error_responses(404)
)
async def get_contacts(group_id: Id, principal: CurrentUser, session: SessionDep) -> ContactsOut:
    """The addresses that receive a group's organizer notifications."""
    _check_group(principal, group_id)
    contacts = await directory.group(session, group_id)
    if contacts is None:
        raise NotFound(f"no contacts set for group {group_id}")
    return ContactsOut(group_id=group_id, name=contacts.name, emails=contacts.emails)
