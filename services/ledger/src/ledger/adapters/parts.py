"""The parts of payments not booked yet: what each of Stripe's events told about a payment,
kept until the parts that complete it arrive (`service_layer/joins.py`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import delete, select

from ledger.adapters import orm
from ledger.adapters.statements import FORGET_PARTS, KEEP_PARTS
from tollgate_shared.persistence.db import json_param
from tollgate_shared.persistence.unit_of_work import Deferred, Known, UnitOfWork


@dataclass(frozen=True)
class Part:
    """One event's part of a payment: its `kind`, the `key` it is kept under (a payment intent,
    an invoice, an event), the `partner` it names (an invoice payment's invoice, a charge's or
    an early event's charge) and the `facts` it told."""

    kind: str
    key: str
    partner: str | None
    facts: dict[str, Any]


@dataclass(frozen=True)
class _Queued:
    part: Part | None
    """What to keep, or None to forget it."""
    new: bool
    """Not kept before this transaction put it: forgotten before it is written, it costs no
    statement."""


async def _write(uow: UnitOfWork, queued: dict[tuple[str, str], _Queued]) -> None:
    kept = [dataclasses.asdict(q.part) for q in queued.values() if q.part is not None]
    gone = [key for key, q in queued.items() if q.part is None]
    queued.clear()
    if kept:
        await uow.execute(KEEP_PARTS, {"parts": json_param(kept)})
    if gone:
        await uow.execute(
            FORGET_PARTS, {"kinds": [kind for kind, _ in gone], "keys": [key for _, key in gone]}
        )


QUEUED = Deferred(dict[tuple[str, str], _Queued], _write)
"""The parts a unit of work put or dropped and has not written yet: written in a statement of
each before it commits (or before it reads parts), never if put and dropped in between."""


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
    under are locked by the transaction's prefetch, so nobody else changes it meanwhile), and
    what it puts or drops is written before the commit, a statement of each (`QUEUED`): a
    payment whose parts all come in one fetch is booked without writing any of them."""

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
        queued = self._uow.deferred(QUEUED)
        before = queued.get((kind, key))
        new = before.new if before else (kind, key) in self._known and not self._known[kind, key]
        part = Part(kind, key, partner, facts)
        queued[kind, key] = _Queued(part, new)
        self._known[kind, key] = part
        self._moved(kind, key, part, new=new)

    def _moved(self, kind: str, key: str, part: Part | None, *, new: bool = False) -> None:
        """Bring the known lists of `kind` in line with the part `key` now being `part` (put)
        or gone (None): replaced where it was, out of a list it left, at the end of one it
        joins if it is new (else that list is read again: its place there is its first put's)."""
        was = self._listed.get((kind, key))
        partner = part.partner if part else None
        if was is not None and (listed := self._lists.get((kind, was))) is not None:
            if part is not None and partner == was:
                self._lists[kind, was] = [part if p.key == key else p for p in listed]
                return
            self._lists[kind, was] = [p for p in listed if p.key != key]
        self._listed.forget([(kind, key)])
        if part is None or partner is None or (kind, partner) not in self._lists:
            return
        if new:
            self._lists[kind, partner] = [*(self._lists[kind, partner] or ()), part]
            self._listed[kind, key] = partner
        else:
            self._lists.forget([(kind, partner)])

    async def _written(self) -> None:
        """Write what is queued now: a statement is about to read the parts."""
        await self._uow.write_queued(QUEUED)

    async def read_ahead(self, kinds: Collection[str], keys: Collection[str]) -> list[Part]:
        """Read the parts of `kinds` kept under `keys` in one statement for `get` (and return
        those found): a fetch's handlers read its payments' parts without a statement each."""
        await self._written()
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
        await self._written()
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
        """Forget the parts (kind, key) of a payment now booked, before the commit (a part known
        absent, or put by this transaction and not written yet, is not written at all)."""
        queued = self._uow.deferred(QUEUED)
        for kind, key in list(parts):
            put = queued.pop((kind, key), None)
            kept = (kind, key) not in self._known or self._known[kind, key] is not None
            if (put is None or not put.new) and kept:
                queued[kind, key] = _Queued(None, new=False)
            self._known[kind, key] = None
            self._moved(kind, key, None)

    async def prune(self, before: datetime) -> int:
        """Forget parts kept since before `before` whose partners never came (another app's
        charges and invoice payments, mostly); how many."""
        await self._written()
        for known in (self._known, self._lists, self._listed):
            known.forget()
        p = orm.payment_parts
        result = await self._uow.session.execute(delete(p).where(p.c.recorded_at < before))
        return int(getattr(result, "rowcount", 0) or 0)
