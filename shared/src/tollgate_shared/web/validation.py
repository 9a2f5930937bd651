"""Field types for request values that every service validates the same way, and the check
of the path and query string that every request passes first."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, StringConstraints
from starlette.types import Scope

# Cc: C0 controls (NUL, CR, LF, TAB...), DEL and C1 controls (NEL); Zl/Zp: U+2028, U+2029.
_REFUSED_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})


def _refuse_control_characters(value: object) -> object:
    """Refuse a string holding a control character or a line break (others pass through)."""
    if isinstance(value, str) and any(
        unicodedata.category(c) in _REFUSED_CATEGORIES for c in value
    ):
        raise ValueError("must be one line without control characters (CR, LF, NUL...)")
    return value


SingleLine = Annotated[
    str, StringConstraints(strip_whitespace=True), BeforeValidator(_refuse_control_characters)
]
"""One line of text, e.g. a name that may end up in a mail header: control characters are
refused before the surrounding spaces are trimmed, so a trailing CR/LF is refused, not trimmed.
Bound its length where it is used: `Annotated[SingleLine, StringConstraints(max_length=200)]`."""


MAX_ID_LENGTH = 255
"""The longest id (of a user, group, tier, Stripe object...) any route accepts."""

Id = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_ID_LENGTH, pattern=r"^[^\x00-\x1f\x7f]+$")
]
"""An id in a path, query or body: 1 to 255 characters, no control characters. Longer ones could
not be stored (or name nothing stored), so they are refused with 422 before any work."""

ShortId = Annotated[Id, StringConstraints(max_length=100)]
"""An id a service stores in a column of 100 characters (checkout's and the ledger's)."""

Text = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$")]
"""Free text (a description, a reason): tabs and line breaks pass, NUL and the other control
characters are refused (Postgres stores no NUL). Bound its length where it is used."""

EmailAddress = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        max_length=254,
        pattern=r'^[^@\s,;:<>()\[\]\\"]{1,64}@[^@\s,;:<>()\[\]\\".]+(\.[^@\s,;:<>()\[\]\\".]+)+$',
    ),
    BeforeValidator(_refuse_control_characters),
]
"""A mail address as people type it (`local@domain.tld`, at most 254 characters). It may go
into a mail header, so spaces, control characters (refused, not trimmed, as in `SingleLine`)
and what separates or quotes addresses there (`,;:<>()[]` backslash, double quote) are refused.
Whether anybody reads it is the mail server's to say."""

INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1

Int64 = Annotated[int, Field(ge=-INT64_MAX - 1, le=INT64_MAX)]
"""An integer Postgres `bigint` holds (amounts in minor units, offsets, cursors); bound it
further where the domain has a bound: `Annotated[Int64, Field(ge=0)]`."""

Int32 = Annotated[int, Field(ge=-INT32_MAX - 1, le=INT32_MAX)]
"""An integer Postgres `integer` holds (capacities, counts stored in `integer` columns)."""


def _in_utc_years(value: datetime) -> datetime:
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("must fall in the years 1 to 9999 in UTC") from None
    return value


Instant = Annotated[AwareDatetime, AfterValidator(_in_utc_years)]
"""A time with its UTC offset that falls in the years 1 to 9999 in UTC too: Postgres stores it
in UTC, and a time beyond those years could not be read back (`9999-12-31T23:59-14:00`)."""

Offset = Annotated[int, Field(ge=0, le=INT64_MAX)]
"""How many rows of a list to skip."""

# C0 controls and DEL, as such or percent-encoded (the path arrives decoded, the query does not).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_IN_QUERY = re.compile(rb"[\x00-\x1f\x7f]|%(?:[01][0-9a-fA-F]|7[fF])")


def control_characters_in(scope: Scope) -> str | None:
    """Where an HTTP request's path or query string holds a control character (NUL, CR, LF,
    TAB, DEL...): "path" or "query"; None when neither does. No route takes one, and Postgres
    refuses NUL in text, so every service answers such a request 422 before routing it."""
    if _CONTROL.search(scope["path"]):
        return "path"
    if _CONTROL_IN_QUERY.search(scope["query_string"]):
        return "query"
    return None
