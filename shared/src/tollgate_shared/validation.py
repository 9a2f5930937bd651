"""Field types for request bodies that every service validates the same way."""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import BeforeValidator, StringConstraints

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
