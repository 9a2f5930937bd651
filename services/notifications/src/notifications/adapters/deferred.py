"""The addresses learned, the notifications recorded (or kept waiting for an address or for
Stripe's details) or superseded, and the details of Stripe objects and invoices' attempts
learned in a unit of work, queued while its handlers run and written before it commits, one
statement per table.

Under load each fetch of events is applied in one transaction, and one round trip per learned
address and per recorded notification made the transaction wait on Postgres for most of its
time. `Directory.member_email` sees a queued address.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from notifications.adapters.statements import (
    AWAIT_ADDRESS,
    LEARN_EMAILS,
    NOTE_ATTEMPTS,
    RECORD_NOTIFICATIONS,
    REMEMBER_DETAILS,
    SUPERSEDE,
)
from notifications.domain.details import InvoiceAttempts
from tollgate_shared.persistence.db import json_param
from tollgate_shared.persistence.unit_of_work import Deferred, UnitOfWork


@dataclass
class Pending:
    """What the handlers of one transaction queued."""

    emails: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    """The newest address queued per member, with its time."""
    rows: list[dict[str, Any]] = field(default_factory=list)
    """Notification rows to record unless they exist."""
    recorded: int = 0
    """How many of the rows were new, once written."""
    waiting: list[dict[str, Any]] = field(default_factory=list)
    """Notifications to keep until their member's address or their details are known, unless
    kept already."""
    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    """What Stripe's events told of each object, merged in the order they were applied."""
    attempts: dict[str, InvoiceAttempts] = field(default_factory=dict)
    """Per invoice, what is known now of its attempts."""
    stale: dict[str, set[str]] = field(default_factory=dict)
    """Per kind, the sources whose notifications written before are stale now (those queued
    here are marked as they are superseded)."""

    def learn(self, user_id: str, email: str, as_of: datetime) -> None:
        """Queue a member's address; an older one than already queued is dropped."""
        known = self.emails.get(user_id)
        if known is None or known[1] <= as_of:
            self.emails[user_id] = (email, as_of)


async def write(uow: UnitOfWork, queue: Pending) -> None:
    """One update of the notifications superseded (per kind), one upsert of the addresses (each
    unless a newer one is known), one insert of the notifications (each unless its fact
    exists), one of those waiting, one upsert of Stripe objects' details, one of invoices'
    attempts."""
    for kind, ids in queue.stale.items():
        await uow.execute(SUPERSEDE, {"kind": kind, "stale_ids": sorted(ids)})
    if queue.emails:
        given = [{"user_id": u, "email": e, "as_of": at} for u, (e, at) in queue.emails.items()]
        await uow.execute(LEARN_EMAILS, {"given": json_param(given)})
    if queue.rows:
        new = await uow.execute(RECORD_NOTIFICATIONS, {"rows": json_param(queue.rows)})
        queue.recorded += len(new)
    if queue.waiting:
        await uow.execute(AWAIT_ADDRESS, {"rows": json_param(queue.waiting)})
    if queue.details:
        given = [{"key": key, "details": d} for key, d in queue.details.items()]
        await uow.execute(REMEMBER_DETAILS, {"rows": json_param(given)})
    if queue.attempts:
        rows = [
            {"invoice_id": invoice_id, **dataclasses.asdict(known)}
            for invoice_id, known in queue.attempts.items()
        ]
        await uow.execute(NOTE_ATTEMPTS, {"rows": json_param(rows)})


PENDING = Deferred(Pending, write)
"""The addresses and notifications of a unit of work (`uow.deferred(PENDING)`)."""
