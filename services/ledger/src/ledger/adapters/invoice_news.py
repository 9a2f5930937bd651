"""Invoices' rows for members' histories, written once per transaction: a fetch's news of its
invoices (`invoice.paid` and `invoice.payment_succeeded` tell the same, a failure or a void
tells more) is kept per invoice, newest first, and written in one statement before the commit,
each row unless the database already holds newer news of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ledger.adapters import orm
from ledger.adapters.statements import insert_given, no_newer_news
from ledger.domain.statuses import news
from tollgate_shared.persistence.db import DriverStatement, json_param
from tollgate_shared.persistence.unit_of_work import Deferred, UnitOfWork


def _save_invoices() -> DriverStatement:
    t = orm.invoices
    stmt = insert_given(t, list(t.columns), "rows", "given", order="invoice_id")
    newer = no_newer_news(t, stmt.excluded)
    changes = {c.name: stmt.excluded[c.name] for c in t.columns if c.name != "invoice_id"}
    return DriverStatement.of(
        stmt.on_conflict_do_update(index_elements=[t.c.invoice_id], set_=changes, where=newer)
    )


SAVE_INVOICES = _save_invoices()
"""Invoice rows (`rows`), in key order, each unless the database holds newer news of it: a
later event, or one of the same second whose status comes later in the invoice's life."""


@dataclass
class InvoiceNews:
    """The newest news of each invoice a unit of work heard of."""

    rows: dict[str, dict[str, Any]] = field(default_factory=dict)

    def note(self, values: dict[str, Any], *, status_at: int) -> None:
        """Keep an invoice's values as of the event second `status_at`, unless newer news of
        it is kept (news as new as the kept replaces it, as a later upsert would)."""
        told = news(values["status"], status_at)
        kept = self.rows.get(values["invoice_id"])
        if kept is None or told >= (kept["status_at"], kept["status_rank"]):
            self.rows[values["invoice_id"]] = {
                **values,
                "status_at": told[0],
                "status_rank": told[1],
            }


async def _write(uow: UnitOfWork, news: InvoiceNews) -> None:
    if news.rows:
        await uow.execute(SAVE_INVOICES, {"rows": json_param(list(news.rows.values()))})


INVOICE_NEWS = Deferred(InvoiceNews, _write)
"""The invoices' news of a unit of work (`uow.deferred(INVOICE_NEWS).note(...)`)."""
