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
from tollgate_shared.persistence.unit_of_work import Known, UnitOfWork


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
    async def read_ahead(self, kinds: Collection[str], keys: Collection[str]) -> list[Part]: ...
    async def read_partnered(self, kinds: Collection[str], partners: Collection[str]) -> None: ...
    async def get(self, kind: str, key: str) -> Part | None: ...
    async def partnered(self, kind: str, partner: str) -> list[Part]: ...
    async def drop(self, parts: Iterable[tuple[str, str]]) -> None: ...
    async def prune(self, before: datetime) -> int: ...


class Parts:
    """The pending parts as one unit of work reads and writes them. What it read or wrote is
    answered from memory for the rest of the transaction (`Known`: the objects a part is kept
    under are locked by the transaction's prefetch, so nobody else changes it meanwhile)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._known: Known[tuple[str, str], Part] = Known(uow)
        self._lists: Known[tuple[str, str], list[Part]] = Known(uow)
        """`partnered`'s answers by (kind, partner), complete as of their reading."""
        self._listed: Known[tuple[str, str], str] = Known(uow)
        """The partner each part in those answers is listed under, by (kind, key)."""

    async def put(
        self, kind: str, key: str, facts: dict[str, Any], *, partner: str | None = None
    ) -> None:
        """Keep a part (a part told again replaces what it told before)."""
        p = orm.payment_parts
        stmt = insert(p).values(kind=kind, key=key, partner=partner, facts=facts)
        changes = {"partner": stmt.excluded.partner, "facts": stmt.excluded.facts}
        await self._uow.session.execute(
            stmt.on_conflict_do_update(index_elements=[p.c.kind, p.c.key], set_=changes)
        )
        self._known[kind, key] = Part(kind, key, partner, facts)
        self._moved(kind, key, partner)

    def _moved(self, kind: str, key: str, partner: str | None = None) -> None:
        """Forget the lists of `kind` the part `key` was or is now in (it was put or dropped)."""
        was = self._listed.get((kind, key))
        self._lists.forget([(kind, named) for named in (was, partner) if named])

    async def read_ahead(self, kinds: Collection[str], keys: Collection[str]) -> list[Part]:
        """Read the parts of `kinds` kept under `keys` in one statement for `get` (and return
        those found): a fetch's handlers read its payments' parts without a statement each."""
        p = orm.payment_parts
        rows = await self._uow.session.execute(
            select(p.c.kind, p.c.key, p.c.partner, p.c.facts).where(
                p.c.kind.in_(list(kinds)), p.c.key.in_(list(keys))
            )
        )
        found = {(row.kind, row.key): Part(*row) for row in rows}
        for wanted in [(kind, key) for kind in kinds for key in keys]:
            self._known[wanted] = found.get(wanted)
        return list(found.values())

    async def read_partnered(self, kinds: Collection[str], partners: Collection[str]) -> None:
        """Read the parts of `kinds` that name any of `partners` in one statement for
        `partnered`."""
        p = orm.payment_parts
        rows = await self._uow.session.execute(
            select(p.c.kind, p.c.key, p.c.partner, p.c.facts)
            .where(p.c.kind.in_(list(kinds)), p.c.partner.in_(list(partners)))
            .order_by(p.c.recorded_at, p.c.key)
        )
        lists: dict[tuple[str, str], list[Part]] = {(k, n): [] for k in kinds for n in partners}
        for row in rows:
            lists[row.kind, row.partner].append(Part(*row))
        self._remember_lists(lists)

    def _remember_lists(self, lists: dict[tuple[str, str], list[Part]]) -> None:
        for (kind, partner), parts in lists.items():
            self._lists[kind, partner] = parts
            for part in parts:
                self._listed[kind, part.key] = partner

    async def get(self, kind: str, key: str) -> Part | None:
        """The part of `kind` kept under `key`, if any."""
        if (kind, key) in self._known:
            return self._known[kind, key]
        p = orm.payment_parts
        row = (
            await self._uow.session.execute(
                select(p.c.kind, p.c.key, p.c.partner, p.c.facts).where(
                    p.c.kind == kind, p.c.key == key
                )
            )
        ).first()
        part = self._known[kind, key] = Part(*row) if row else None
        return part

    async def partnered(self, kind: str, partner: str) -> list[Part]:
        """The parts of `kind` that name `partner`, oldest first."""
        if (kind, partner) not in self._lists:
            await self.read_partnered([kind], [partner])
        return list(self._lists[kind, partner] or ())

    async def drop(self, parts: Iterable[tuple[str, str]]) -> None:
        """Forget the parts (kind, key) of a payment now booked (those known to be kept: a
        part known absent costs no statement)."""
        wanted = [part for part in parts if part not in self._known or self._known[part]]
        if wanted:
            p = orm.payment_parts
            await self._uow.session.execute(delete(p).where(tuple_(p.c.kind, p.c.key).in_(wanted)))
        for part in wanted:
            self._known[part] = None
            self._moved(*part)

    async def prune(self, before: datetime) -> int:
        """Forget parts kept since before `before` whose partners never came (another app's
        charges and invoice payments, mostly); how many."""
        for known in (self._known, self._lists, self._listed):
            known.forget()
        p = orm.payment_parts
        result = await self._uow.session.execute(delete(p).where(p.c.recorded_at < before))
        return int(getattr(result, "rowcount", 0) or 0)
