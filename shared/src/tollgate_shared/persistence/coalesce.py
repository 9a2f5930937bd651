"""Concurrent reads by key answered by as few queries as possible, never by an older one.

Under load a hot read (the membership gate) is asked by many clients at once, and one query
for 64 keys costs the database and the driver little more than one query for one key. A
`Coalescer` runs one query at a time: the reads that arrive while it runs wait and form the
next batch. Every read is therefore answered by a query that started after the read arrived,
so coalescing, unlike a cache, never answers with data older than the read itself: whatever
was committed before a request arrived is in its answer.

DataLoader-style libraries batch only the reads of one event-loop tick and keep a cache; this
batches for as long as the previous query runs and keeps nothing.

The same shape makes a group commit: writes that arrive while one transaction commits wait
and go in the next, each writer learning its own outcome once its transaction has committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Fetch = Callable[[Sequence[K]], Awaitable[Mapping[K, V]]]


class Coalescer(Generic[K, V]):
    """`get(key)` through `fetch(keys) -> {key: value}`, batched while a fetch runs."""

    def __init__(self, fetch: Fetch[K, V], *, max_batch: int = 256) -> None:
        self._fetch = fetch
        self._max_batch = max_batch
        self._waiting: dict[K, list[asyncio.Future[V]]] = {}
        self._runner: asyncio.Task[None] | None = None
        self.fetches = 0
        """How many fetches ran."""

    async def get(self, key: K) -> V:
        """The value of `key`, read by a fetch that starts after this call."""
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(future)
        if self._runner is None:
            # Started on the loop's next turn, so the reads of this turn join the first batch.
            self._runner = asyncio.create_task(self._run())
        return await future

    async def _run(self) -> None:
        batch: dict[K, list[asyncio.Future[V]]] = {}
        try:
            while self._waiting:
                keys = list(self._waiting)[: self._max_batch]
                batch = {key: self._waiting.pop(key) for key in keys}
                self.fetches += 1
                found: Mapping[K, V] = {}
                failure: Exception | None = None
                try:
                    found = await self._fetch(keys)
                except Exception as exc:  # each waiting read raises it
                    failure = exc
                for key, futures in batch.items():
                    for future in futures:
                        if future.done():  # the reader went away (its request was cancelled)
                            continue
                        if key in found:
                            future.set_result(found[key])
                        else:
                            future.set_exception(failure or KeyError(key))
        finally:  # cancelled (the app stopping): nobody waits for ever
            self._runner = None
            for futures in [*self._waiting.values(), *batch.values()]:
                for future in futures:
                    future.cancel()
            self._waiting.clear()
