"""A small, fast HTTP/1.1 load generator on raw asyncio streams (keep-alive connections).

A Python client shares the machine with the server under test; it is kept lean (pre-built
requests, no parsing beyond the status line and Content-Length) so it costs the server as
little CPU as possible.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit


@contextlib.contextmanager
def without_gc_pauses() -> Iterator[None]:
    """The load generator's own collector kept from pausing it while it measures: a full
    collection of its heap took about 100 ms on a 2-core machine, and every reply waiting
    meanwhile was counted that much slower (it was the e2e figure's p99)."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


def kept_up(seconds: float, answered_after_s: float, drained_after_s: float) -> bool:
    """Whether a step of `seconds` was kept up: its last event was answered (published, or
    its webhook answered) within a second of being due, so the rate asked was the rate taken
    (a saturated pipeline answers late and slows the sender), and the lag left then was gone
    within a second."""
    return answered_after_s <= seconds + 1.0 and drained_after_s <= 1.0


def percentile(values: list[float], p: float) -> float:
    """The `p`-th percentile (0 to 100) of `values`, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


@dataclass(frozen=True)
class LoadResult:
    concurrency: int
    requests: int
    seconds: float
    statuses: dict[int, int]
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        return percentile(self.latencies_ms, p)

    def summary(self) -> dict[str, object]:
        return {
            "concurrency": self.concurrency,
            "requests": self.requests,
            "per_second": round(self.rate, 1),
            "p50_ms": round(self.percentile(50), 2),
            "p99_ms": round(self.percentile(99), 2),
            "mean_ms": round(statistics.fmean(self.latencies_ms), 2),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
        }


def build_post(url: str, body: bytes, headers: dict[str, str]) -> bytes:
    """A raw keep-alive POST request."""
    parts = urlsplit(url)
    lines = [
        f"POST {parts.path} HTTP/1.1",
        f"Host: {parts.netloc}",
        f"Content-Length: {len(body)}",
        *(f"{k}: {v}" for k, v in headers.items()),
        "",
        "",
    ]
    return "\r\n".join(lines).encode() + body


def build_get(url: str, headers: dict[str, str]) -> bytes:
    """A raw keep-alive GET request."""
    parts = urlsplit(url)
    lines = [f"GET {parts.path} HTTP/1.1", f"Host: {parts.netloc}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return "\r\n".join([*lines, "", ""]).encode()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return status, (await reader.readexactly(length) if length else b"")


class Connections:
    """Keep-alive connections to one server, shared by concurrent callers (one request at a
    time on each): a lean client for the benchmarks that wait on answers."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._address = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """Send a raw request; its status and body. Pooled connections the server has closed
        in the meantime (its keep-alive timeout) are dropped, then a new one is opened."""
        while self._idle:
            reader, writer = self._idle.pop()
            try:
                return await self._exchange(reader, writer, request)
            except (ConnectionError, asyncio.IncompleteReadError):
                writer.close()
        return await self._exchange(*await asyncio.open_connection(*self._address), request)

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
    ) -> tuple[int, bytes]:
        writer.write(request)
        answer = await _read_response(reader)
        self._idle.append((reader, writer))
        return answer

    def close(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()


async def run_load(
    url: str, requests: Sequence[bytes] | Callable[[int], bytes], *, total: int, concurrency: int
) -> LoadResult:
    """Send `total` requests over `concurrency` keep-alive connections; time each one."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    next_index = 0
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    def request(i: int) -> bytes:
        return requests(i) if callable(requests) else requests[i % len(requests)]

    async def worker() -> None:
        nonlocal next_index
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while next_index < total:
                i = next_index
                next_index += 1
                started = time.perf_counter()
                writer.write(request(i))
                status, _ = await _read_response(reader)
                latencies.append((time.perf_counter() - started) * 1000)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    with without_gc_pauses():
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return LoadResult(concurrency, total, time.perf_counter() - started, statuses, latencies)
