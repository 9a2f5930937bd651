"""The order of the statuses of Stripe objects the ledger tracks.

Stripe timestamps events to the second and delivers them in any order; when two events of
one object share a second, the status later in the object's life wins.
"""

from __future__ import annotations

STATUS_RANK = {
    "draft": 0,
    "open": 1,
    "actionable": 1,
    "not_actionable": 1,
    "needs_response": 1,
    "warning_needs_response": 1,
    "under_review": 2,
    "warning_under_review": 2,
    "closed": 3,
    "paid": 3,
    "void": 3,
    "uncollectible": 3,
    "won": 3,
    "lost": 3,
    "warning_closed": 3,
    # refunds: a refund that succeeded can still fail (its money comes back)
    "pending": 1,
    "requires_action": 1,
    "succeeded": 3,
    "failed": 4,
    "canceled": 4,
}


def status_rank(status: str | None) -> int:
    """How far along its life an object with this status is (unknown statuses in the middle)."""
    return STATUS_RANK.get(status or "", 2)


def news(status: str | None, status_at: int) -> tuple[int, int]:
    """How new what an event tells of an object is: its second, then its status's rank. A row
    is written unless it holds newer news."""
    return status_at, status_rank(status)
