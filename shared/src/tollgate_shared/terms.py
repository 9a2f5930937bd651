"""One-time (annual) membership terms run back to back: the rule checkout (when a subscription
bought after them may start billing) and membership (how long access lasts) both apply."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta


def back_to_back_end(terms: Iterable[tuple[datetime, int]]) -> datetime | None:
    """When terms given in payment order as `(start, days)` end: each runs its days from the
    later of its start and the previous term's end. None when there is none."""
    end: datetime | None = None
    for start, days in terms:
        end = max(start, end or start) + timedelta(days=days)
    return end
