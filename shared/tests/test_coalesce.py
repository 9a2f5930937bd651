"""Coalesced reads: concurrent reads share fetches, and no read is answered by a fetch that
started before it arrived."""

import asyncio
from collections.abc import Mapping, Sequence

import pytest

from tollgate_shared.persistence.coalesce import Coalescer


class Store:
    """A keyed store whose fetches can be held open, recording what each fetch read."""

    def __init__(self) -> None:
        self.values: dict[str, int] = {}
        self.fetched: list[list[str]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail: Exception | None = None

    async def fetch(self, keys: Sequence[str]) -> Mapping[str, tuple[int, int]]:
        self.fetched.append(list(keys))
        number = len(self.fetched)
        snapshot = dict(self.values)  # what the query sees: the state when it started
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return {key: (snapshot[key], number) for key in keys if key in snapshot}


async def test_concurrent_reads_share_one_fetch_and_each_gets_its_own_value() -> None:
    store = Store()
    store.values = {f"k{i}": i for i in range(50)}
    reads = Coalescer(store.fetch)

    answers = await asyncio.gather(*(reads.get(f"k{i % 50}") for i in range(100)))

    assert answers == [(i % 50, 1) for i in range(100)]
    assert store.fetched == [[f"k{i}" for i in range(50)]]  # each key asked once


async def test_a_read_arriving_during_a_fetch_waits_for_the_next_one() -> None:
    store = Store()
    store.values = {"a": 1, "b": 1}
    reads = Coalescer(store.fetch)
    store.gate.clear()
    first = asyncio.create_task(reads.get("a"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert store.fetched == [["a"]]  # the first fetch runs, held open

    store.values["a"] = 2  # committed after the first fetch started, before the reads below
    later = [asyncio.create_task(reads.get(key)) for key in ("a", "b", "a")]
    await asyncio.sleep(0)
    assert len(store.fetched) == 1  # they wait rather than join the running fetch
    store.gate.set()

    assert await first == (1, 1)
    assert await asyncio.gather(*later) == [(2, 2), (1, 2), (2, 2)]
    assert store.fetched == [["a"], ["a", "b"]]
    assert reads.fetches == 2


async def test_batches_are_capped() -> None:
    store = Store()
    store.values = {str(i): i for i in range(10)}
    reads = Coalescer(store.fetch, max_batch=4)

    answers = await asyncio.gather(*(reads.get(str(i)) for i in range(10)))

    assert [value for value, _ in answers] == list(range(10))
    assert [len(keys) for keys in store.fetched] == [4, 4, 2]


async def test_a_failed_fetch_fails_each_of_its_reads_and_the_next_read_fetches_again() -> None:
    store = Store()
    store.values = {"a": 1, "b": 2}
    store.fail = ConnectionError("database went away")
    reads = Coalescer(store.fetch)

    results = await asyncio.gather(reads.get("a"), reads.get("b"), return_exceptions=True)
    assert [type(r) for r in results] == [ConnectionError, ConnectionError]

    store.fail = None
    assert await reads.get("b") == (2, 2)


async def test_a_key_the_fetch_does_not_return_is_a_key_error() -> None:
    store = Store()
    store.values = {"a": 1}
    reads = Coalescer(store.fetch)

    with pytest.raises(KeyError):
        await reads.get("missing")
    assert await reads.get("a") == (1, 2)


async def test_a_reader_that_goes_away_does_not_disturb_the_others() -> None:
    store = Store()
    store.values = {"a": 1}
    store.gate.clear()
    reads = Coalescer(store.fetch)
    leaving = asyncio.create_task(reads.get("a"))
    staying = asyncio.create_task(reads.get("a"))
    await asyncio.sleep(0)
    leaving.cancel()
    store.gate.set()

    assert await staying == (1, 1)
    assert leaving.cancelled()
