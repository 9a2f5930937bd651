"""Pulling a durable's messages with JetStream's pull API, over one inbox subscription
(`Puller`), and the loop that keeps a consumer's fetches coming (`pull`).

nats-py's `PullSubscription.fetch` hands over a batch message by message, two tasks each, so
under load a full fetch took longer than applying it (figures in bench/README.md). Here the
inbox subscription's callback collects what arrives, and a fetch waits once, for its request
to end.

A fetch first takes what earlier requests delivered late, then asks the server, without
waiting, for up to the rest of the batch (`no_wait`: it answers with what it has, then a
status). When nothing is there it waits for one message (`batch` 1 with `expires`, so nothing
is left pending on the server when it comes) and then asks, without waiting, for the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable

import structlog
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import TimeoutError as NatsTimeoutError

from tollgate_shared.messaging.streams import ConsumerSpec

log = structlog.get_logger(__name__)

_STATUS = "Status"
_DESCRIPTION = "Description"
_NOTHING_THERE = ("404", "408")
"""No messages; the request expired."""
_ENDS_REQUEST = {*_NOTHING_THERE, "409"}
"""Those, or the request ended otherwise (consumer deleted, leader changed, too many waiting
requests …)."""


class PullError(Exception):
    """The server ended a pull request for a reason other than having nothing to deliver."""


class Puller:
    """Fetches batches of one durable (at most one request at a time)."""

    def __init__(self, nc: NatsClient, stream: str, durable: str) -> None:
        self._nc = nc
        self._subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self._inbox = nc.new_inbox()
        self._sub: Subscription | None = None
        self._arrived: list[Msg] = []
        self._ended: str | None = None
        self._wakeup = asyncio.Event()

    async def start(self) -> None:
        """Subscribe to the inbox the server delivers to."""
        self._sub = await self._nc.subscribe(self._inbox, cb=self._received)

    async def stop(self) -> None:
        """Unsubscribe; what was delivered and not fetched is redelivered after `ack_wait`."""
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None

    async def _received(self, msg: Msg) -> None:
        headers = msg.headers or {}
        status = headers.get(_STATUS) if not msg.data else None
        if status is None:
            self._arrived.append(msg)
        elif status in _ENDS_REQUEST:
            self._ended = f"{status} {headers.get(_DESCRIPTION, '')}".strip()
        else:
            return  # a heartbeat (100): none asked for
        self._wakeup.set()

    async def fetch(self, batch: int, *, timeout: float) -> list[Msg]:
        """Up to `batch` messages: what is there now, else the first to arrive within
        `timeout` and what is there with it. Raises nats' `TimeoutError` when none came."""
        if len(self._arrived) < batch:
            await self._request(batch - len(self._arrived), wait=None)
        if not self._arrived:
            await self._request(1, wait=timeout)
            if not self._arrived:
                raise NatsTimeoutError
            await self._request(batch - len(self._arrived), wait=None)
        taken, self._arrived = self._arrived[:batch], self._arrived[batch:]
        return taken

    async def _request(self, count: int, *, wait: float | None) -> None:
        """Ask for `count` more and wait until they came or the server ended the request
        (or `wait` passed, plus a margin for the server's own expiry to reach us)."""
        if count <= 0:
            return
        request: dict[str, object] = {"batch": count}
        if wait is None:
            request["no_wait"] = True
        else:
            request["expires"] = int(wait * 1e9)
        self._ended = None
        target = len(self._arrived) + count
        await self._nc.publish(self._subject, json.dumps(request).encode(), reply=self._inbox)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (wait if wait is not None else 0.0) + 5.0
        while len(self._arrived) < target and self._ended is None:
            self._wakeup.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                return  # the server never ended it: what it delivers later waits for a fetch
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._wakeup.wait()
        ended, self._ended = self._ended, None
        if ended is not None and not ended.startswith(_NOTHING_THERE) and not self._arrived:
            raise PullError(ended)


ApplyFetch = Callable[[list[Msg]], Awaitable[None]]
"""Applies one fetch and answers its messages (ack, retry, DLQ)."""


async def pull(
    puller: Puller,
    spec: ConsumerSpec,
    apply: ApplyFetch,
    stop: asyncio.Event,
    *,
    fetch_timeout: float = 5.0,
) -> None:
    """Fetch and `apply` batches until `stop` is set or the task is cancelled. Up to
    `spec.fetches_in_flight` fetches are applied at once, each in its own transaction; the
    next fetch starts as soon as one is done. One fetch is outstanding at a time: it answers
    with what is ready, and its requests never linger on the server. After a fetch that was
    not full (the consumer has caught up), the next waits up to `spec.linger_seconds` for the
    fetches being applied, and until `spec.gather_seconds` after that fetch returned, so what
    arrives meanwhile is taken in one fetch and one transaction. On stop, fetches being applied
    are finished (one in progress is abandoned: what it would have delivered is redelivered
    after `ack_wait`)."""
    loop = asyncio.get_running_loop()
    slots = asyncio.Semaphore(spec.fetches_in_flight)
    applying: set[asyncio.Task[None]] = set()

    async def applied(msgs: list[Msg]) -> None:
        try:
            await apply(msgs)
        except Exception as exc:  # a lost ack …
            _failed(spec, exc)
        finally:
            slots.release()

    try:
        while not stop.is_set():
            await slots.acquire()
            try:
                msgs = await puller.fetch(spec.fetch_size, timeout=fetch_timeout)
            except NatsTimeoutError:
                slots.release()
                continue
            except Exception as exc:  # NATS reconnecting, a leader election …
                slots.release()
                _failed(spec, exc)
                await asyncio.sleep(0.5)
                continue
            fetched_at = loop.time()
            task = asyncio.create_task(applied(msgs))
            applying.add(task)
            task.add_done_callback(applying.discard)
            if len(msgs) < spec.fetch_size:
                await asyncio.wait(set(applying), timeout=spec.linger_seconds)
                if spec.gather_seconds:
                    await asyncio.sleep(max(0.0, fetched_at + spec.gather_seconds - loop.time()))
    finally:
        if applying:
            await asyncio.wait(applying, timeout=10)
        await puller.stop()


def _failed(spec: ConsumerSpec, exc: Exception) -> None:
    # Unacked messages come back after ack_wait; the inbox makes that harmless.
    log.warning("consumer.pull_failed", consumer=spec.durable, error=repr(exc))
