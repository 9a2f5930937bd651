"""Declined and failed payments as one unit of work records them."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import func, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.adapters import orm
from tollgate_shared.persistence.unit_of_work import UnitOfWork

FAILURE_DETAILS = (
    "user_id",
    "email",
    "code",
    "decline_code",
    "message",
    "payment_intent_id",
    "invoice_id",
)
"""What events tell of a failed payment that an earlier event may have told already."""


class AbstractFailures(Protocol):
    async def record(self, values: dict[str, Any]) -> None: ...
    async def add_details(self, failure_id: str, details: dict[str, Any]) -> None: ...


class Failures:
    """The `payment_failures` table in one transaction."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    @property
    def _session(self) -> AsyncSession:
        return self._uow.session

    async def record(self, values: dict[str, Any]) -> None:
        """Record a declined or failed payment; what an earlier event told of it is kept (the
        charge's and its intent's events tell the same in any order), its newest attempt
        wins (an invoice retried)."""
        f = orm.payment_failures
        stmt = insert(f).values(**values)
        kept = {k: func.coalesce(f.c[k], stmt.excluded[k]) for k in FAILURE_DETAILS if k in values}
        newest = {k: func.greatest(f.c[k], stmt.excluded[k]) for k in ("attempts", "failed_at")}
        await self._session.execute(
            stmt.on_conflict_do_update(index_elements=[f.c.failure_id], set_=kept | newest)
        )

    async def add_details(self, failure_id: str, details: dict[str, Any]) -> None:
        """Fill in what a recorded failure lacks (a charge without a group of its own tells its
        payer and decline once its intent has said whose it is)."""
        f = orm.payment_failures
        await self._session.execute(
            update(f)
            .where(f.c.failure_id == failure_id)
            .values({k: func.coalesce(f.c[k], v) for k, v in details.items()})
        )
