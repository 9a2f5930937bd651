"""What Stripe's events told the service about charges, invoices and subscriptions of ours
(`domain/details`): the details that complete notifications, and each invoice's attempts."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import delete

from notifications.adapters.deferred import PENDING
from notifications.adapters.orm import invoice_attempts, stripe_details
from notifications.adapters.statements import ATTEMPTS_BY_INVOICE, DETAILS_BY_KEY
from notifications.domain.details import Details, InvoiceAttempts
from tollgate_shared.persistence.unit_of_work import Known, ReadAhead, UnitOfWork


class StripeDetails:
    """Details and invoices' attempts as one unit of work sees them: read ahead for a fetch,
    what it learns written before the commit (`deferred.PENDING`). What it knows of an
    invoice's attempts stays right until the commit: the consumer locks a fetch's invoices, in
    order, before reading them."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._stored = ReadAhead(self._load)
        self._attempts: Known[str, InvoiceAttempts] = Known(uow)

    async def _load(self, keys: list[str]) -> dict[str, Details]:
        rows = await self._uow.execute(DETAILS_BY_KEY, {"keys": keys})
        return {row["key"]: row["details"] for row in rows}

    async def read(self, keys: Collection[str]) -> None:
        """Read the details of `keys` in one statement, for `found` to answer from."""
        await self._stored.read(keys)

    def learn(self, key: str, details: Details) -> None:
        """Add to what is known of the object `key` (written before the commit)."""
        self._uow.deferred(PENDING).details.setdefault(key, {}).update(details)

    async def found(self, keys: Sequence[str]) -> list[Details]:
        """The details known of each of `keys` (in their order; unknown ones left out), those
        learned in this transaction included."""
        queued = self._uow.deferred(PENDING).details
        result = []
        for key in keys:
            stored = await self._stored.get(key)
            if stored is not None or key in queued:
                result.append({**(stored or {}), **queued.get(key, {})})
        return result

    async def read_attempts(self, invoice_ids: Collection[str]) -> None:
        """Read what is known of the invoices' attempts in one statement, for `attempted`."""
        rows = await self._uow.execute(ATTEMPTS_BY_INVOICE, {"invoice_ids": list(invoice_ids)})
        found = {
            row["invoice_id"]: InvoiceAttempts(row["attempt_count"], row["paid"]) for row in rows
        }
        for invoice_id in invoice_ids:
            self._attempts[invoice_id] = found.get(invoice_id)

    async def attempted(
        self, invoice_id: str, attempt_count: int, *, paid: bool
    ) -> InvoiceAttempts:
        """Record an attempt to pay an invoice (`paid`: it succeeded); returns what is known
        now, whatever order the attempts' events came in (the latest number; paid once any
        attempt paid it)."""
        if invoice_id not in self._attempts:
            await self.read_attempts([invoice_id])
        before = self._attempts[invoice_id] or InvoiceAttempts(0, paid=False)
        known = InvoiceAttempts(max(before.attempt_count, attempt_count), before.paid or paid)
        self._attempts[invoice_id] = known
        self._uow.deferred(PENDING).attempts[invoice_id] = known
        return known

    async def forget(self, *, before: datetime) -> None:
        """Forget what was learned before `before` (no event that it completes comes later)."""
        session = self._uow.session
        await session.execute(delete(stripe_details).where(stripe_details.c.as_of < before))
        await session.execute(delete(invoice_attempts).where(invoice_attempts.c.as_of < before))
