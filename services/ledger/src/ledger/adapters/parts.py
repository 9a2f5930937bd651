"""The parts of payments not booked yet: what each of Stripe's events told about a payment,
kept until the parts that complete it arrive (`service_layer/joins.py`)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import delete, select, tuple_
from sqlalchemy.dialects.postgresql import insert

from ledger.adapters import orm
from tollgate_shared.persistence.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Part:
    """One event's part of a payment: its `kind`, the `key` it is kept under (a payment intent,
    an invoice, an event), the `partner` it names (an invoice payment's invoice, a charge's or
    an early event's charge) and the `facts` it told."""

    kind: str
    key: str
    partner: str | None
    facts: dict[str, Any]


class AbstractParts(Protocol):
    """What the service layer asks of the pending parts (`Parts` in Postgres; a fake in the
    unit tests)."""

    async def put(
        self, kind: str, key: str, facts: dict[str, Any], *, partner: str | None = None
    ) -> None: ...
    async def read_ahead(self, kinds: Collection[str], keys: Collection[str]) -> None: ...
    async def get(self, kind: str, key: str) -> Part | None: ...
    async def partnered(self, kind: str, partner: str) -> list[Part]: ...
    async def drop(self, parts: Iterable[tuple[str, str]]) -> None: ...
    async def prune(self, before: datetime) -> int: ...


class Parts:
    """The pending parts as one unit of work reads and writes them."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._ahead: dict[tuple[str, str], Part | None] = {}

    async def put(
        self, kind: str, key: str, facts: dict[str, Any], *, partner: str | None = None
    ) -> None:
        """Keep a part (a part told again replaces what it told before)."""
        self._ahead.pop((kind, key), None)
        p = orm.payment_parts
        stmt = insert(p).values(kind=kind, key=key, partner=partner, facts=facts)
        changes = {"partner": stmt.excluded.partner, "facts": stmt.excluded.facts}
        await self._uow.session.execute(
            stmt.on_conflict_do_update(index_elements=[p.c.kind, p.c.key], set_=changes)
        )

    async def read_ahead(self, kinds: Collection[str], keys: Collection[str]) -> None:
        """Read the parts of `kinds` kept under `keys` in one statement for `get`, which answers
        each once from them, then from the database (a part put or dropped meanwhile is read
        again): a fetch's handlers read its payments' parts without a statement each."""
        p = orm.payment_parts
        rows = await self._uow.session.execute(
            select(p.c.kind, p.c.key, p.c.partner, p.c.facts).where(
                p.c.kind.in_(list(kinds)), p.c.key.in_(list(keys))
            )
        )
        found = {(row.kind, row.key): Part(*row) for row in rows}
        self._ahead.update(((k, key), found.get((k, key))) for k in kinds for key in keys)

    async def get(self, kind: str, key: str) -> Part | None:
        """The part of `kind` kept under `key`, if any."""
        if (kind, key) in self._ahead:
            return self._ahead.pop((kind, key))
        p = orm.payment_parts
        row = (
            await self._uow.session.execute(
                select(p.c.kind, p.c.key, p.c.partner, p.c.facts).where(
                    p.c.kind == kind, p.c.key == key
                )
            )
        ).first()
        return Part(*row) if row else None

    async def partnered(self, kind: str, partner: str) -> list[Part]:
        """The parts of `kind` that name `partner`, oldest first."""
        p = orm.payment_parts
        rows = await self._uow.session.execute(
            select(p.c.kind, p.c.key, p.c.partner, p.c.facts)
            .where(p.c.kind == kind, p.c.partner == partner)
            .order_by(p.c.recorded_at, p.c.key)
        )
        return [Part(*row) for row in rows]

    async def drop(self, parts: Iterable[tuple[str, str]]) -> None:
        """Forget the parts (kind, key) of a payment now booked."""
        wanted = list(parts)
        for part in wanted:
            self._ahead.pop(part, None)
        if wanted:
            p = orm.payment_parts
            await self._uow.session.execute(delete(p).where(tuple_(p.c.kind, p.c.key).in_(wanted)))

    async def prune(self, before: datetime) -> int:
        """Forget parts kept since before `before` whose partners never came (another app's
        charges and invoice payments, mostly); how many."""
        self._ahead.clear()
        p = orm.payment_parts
        result = await self._uow.session.execute(delete(p).where(p.c.recorded_at < before))
        return int(getattr(result, "rowcount", 0) or 0)
