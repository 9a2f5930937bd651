"""Keyset pagination: a page ends at a row, the next starts after that row's unique sort key.

Offsets skip or repeat rows when the list changes between pages and a sort key that is not
unique (a timestamp alone) skips rows that share it; a cursor over a unique key (e.g.
`(created_at, id)`) reaches every row exactly once, whatever is added meanwhile.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, TypeVar, cast

from fastapi import Query
from sqlalchemy import ColumnElement, Row, Select, literal, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from tollgate_shared.web.errors import ApiError

T = TypeVar("T")
KeyPart = datetime | int | str
INT64 = 2**63

Cursor = Annotated[
    str | None,
    Query(
        max_length=512,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="`next_cursor` of the previous page (opaque)",
    ),
]
"""A route's `cursor` parameter for lists paged with `encode_cursor`."""


def encode_cursor(*key: KeyPart) -> str:
    """An opaque, URL-safe cursor for the row whose sort key is `key`."""
    plain = [part.isoformat() if isinstance(part, datetime) else part for part in key]
    raw = json.dumps(plain, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _part(kind: type, value: object) -> KeyPart:
    """One part of a key as the database takes it; ValueError when it is not one."""
    if kind is datetime and isinstance(value, str):
        value = datetime.fromisoformat(value)
        fits = value.tzinfo is not None  # every key time is handed out with its offset
    elif kind is int:
        fits = type(value) is int and -INT64 <= value < INT64
    else:
        # What Postgres cannot store in text (NUL, lone surrogates) raises or does not fit.
        fits = kind is str and isinstance(value, str) and b"\x00" not in value.encode()
    if not fits:
        raise ValueError(value)
    return cast(KeyPart, value)


def decode_cursor(cursor: str, *kinds: type) -> tuple[Any, ...]:
    """The key `encode_cursor` made, as values of `kinds`; 422 `invalid_cursor` for anything
    else (so a forged cursor never reaches the database)."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(kinds):
            raise ValueError(cursor)
        return tuple(_part(kind, value) for kind, value in zip(kinds, raw, strict=True))
    except ValueError:  # bad base64, UTF-8, JSON or values alike
        raise ApiError(
            "`cursor` is not a cursor this list handed out", code="invalid_cursor", status_code=422
        ) from None


def _after(
    columns: Sequence[ColumnElement[Any]], key: Sequence[Any], *, descending: bool
) -> ColumnElement[bool]:
    """Rows past `key` in the order of `columns` (all descending, or all ascending)."""
    row = tuple_(*columns)
    at = tuple_(*(literal(value, column.type) for column, value in zip(columns, key, strict=True)))
    return row < at if descending else row > at


def split_page(rows: Sequence[T], limit: int) -> tuple[list[T], T | None]:
    """`rows` read with `limit + 1`: the page (the first `limit`), and its last row when more
    follow, to make the next cursor from (None on the last page)."""
    page = list(rows[:limit])
    return page, page[-1] if len(rows) > limit else None


async def keyset_page(
    session: AsyncSession,
    query: Select[Any],
    key: Sequence[ColumnElement[Any]],
    *,
    limit: int,
    cursor: str | None,
    descending: bool = True,
) -> tuple[list[Row[Any]], str | None]:
    """One page of `query` ordered by `key` (unique, e.g. `(created_at, id)`; its columns must
    be selected) after `cursor`, and the cursor of the next page (None on the last page)."""
    if cursor:
        kinds = [column.type.python_type for column in key]
        query = query.where(_after(key, decode_cursor(cursor, *kinds), descending=descending))
    order = [column.desc() if descending else column.asc() for column in key]
    found = (await session.execute(query.order_by(*order).limit(limit + 1))).all()
    rows, last = split_page(found, limit)
    return rows, encode_cursor(*(last._mapping[column] for column in key)) if last else None
