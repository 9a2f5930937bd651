"""One Stripe API budget per account, shared by every process and replica through NATS KV.

Stripe allows an account 100 requests/s in live mode (25 in test mode), and each endpoint 25/s.
Every Stripe call of every service passes `StripeBudget.spend` first (the Stripe client's HTTP
layer does it, `infra.stripe_client`). The budget is a GCRA ("virtual scheduling") over one KV
entry per account: the theoretical arrival time of the account's next request and of each
endpoint's, updated by compare-and-set, so concurrent processes never both spend one slot.

Requests of a person waiting (`Priority.INTERACTIVE`: an HTTP request, e.g. checkout) may use
the whole burst; background work (schedules, the CLI, consumers) only the part of the burst
left by `background_share`, so under contention it is refused first. A consumer's message
(`Priority.POSTPONABLE`) does not wait for a slot: it gets `StripeBusy` and is delivered again
later. While NATS cannot be reached, each process keeps the budget alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import enum
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import nats
import nats.errors
import nats.js.errors
import structlog
from nats.aio.client import Client as NatsClient
from nats.js.kv import KeyValue

from tollgate_shared.messaging.message import Postponed

log = structlog.get_logger(__name__)

BUCKET = "stripe_budget"
ACCOUNT = "*"
"""The state's key for the account's rate (the others are endpoints)."""
_ID = re.compile(r"[^a-z_]")
"""A path segment holding anything but lowercase letters and `_` (and not the API's version,
`v1`) is an object id."""


class Priority(enum.Enum):
    INTERACTIVE = "interactive"
    """A person waits (an HTTP request): the whole burst, waits for a slot."""
    BACKGROUND = "background"
    """Schedules, the CLI: the background share, waits for a slot."""
    POSTPONABLE = "postponable"
    """A consumer's message: the background share, and `StripeBusy` rather than a wait."""


_priority: contextvars.ContextVar[Priority] = contextvars.ContextVar(
    "stripe_priority", default=Priority.BACKGROUND
)


def current_priority() -> Priority:
    return _priority.get()


@contextlib.contextmanager
def prioritised(priority: Priority) -> Iterator[None]:
    """Stripe calls made inside run at `priority` (HTTP requests: interactive)."""
    token = _priority.set(priority)
    try:
        yield
    finally:
        _priority.reset(token)


class StripeBusy(Postponed):
    """The account's Stripe budget is spent (or Stripe answered 429): try again later."""


@dataclass(frozen=True)
class Rates:
    """Requests a second for the account and for each endpoint, and the share of the burst
    (one second's worth) that background work may take."""

    per_second: float
    per_endpoint: float
    background_share: float = 0.5

    def limit(self, priority: Priority) -> float:
        """How far ahead of now (seconds) the schedule may run for `priority`."""
        return 1.0 if priority is Priority.INTERACTIVE else self.background_share


def endpoint(method: str, path: str) -> str:
    """The endpoint a request counts against: `GET /v1/charges/{id}`."""
    segments = [
        ("{id}" if _ID.search(s) and i > 1 else s)
        for i, s in enumerate(path.split("?")[0].split("/"))
    ]
    return f"{method.upper()} {'/'.join(segments)}"


def schedule(
    state: dict[str, float], now: float, where: str, rates: Rates, priority: Priority
) -> float:
    """Spend one request of the account and of endpoint `where` in `state` (0 returned), or
    leave `state` alone and return how long until one would be allowed."""
    limit = rates.limit(priority)
    steps = ((ACCOUNT, 1.0 / rates.per_second), (where, 1.0 / rates.per_endpoint))
    after = {key: max(state.get(key, now), now) + step for key, step in steps}
    wait = max(at - now - limit for at in after.values())
    if wait > 0:
        return wait
    for key in [k for k, at in state.items() if at < now]:
        del state[key]  # in the past: no longer limiting anything
    state.update(after)
    return 0.0


class StripeBudget:
    """The budget of the account behind `api_key` at `rates`, kept in NATS KV at `nats_url`
    (None: in this process only) with `replicas` (as the streams')."""

    def __init__(
        self,
        api_key: str,
        rates: Rates,
        nats_url: str | None,
        *,
        max_wait: float = 2.0,
        replicas: int = 1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rates = rates
        self.max_wait = max_wait
        self._key = "acct_" + hashlib.sha256(api_key.encode()).hexdigest()[:24]
        self._nats_url = nats_url
        self._replicas = replicas
        self._clock = clock
        self._local: dict[str, float] = {}
        self._kv: KeyValue | None = None
        self._nc: NatsClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._retry_at = 0.0
        self._cached: tuple[dict[str, float], int] | None = None

    async def spend(self, method: str, path: str) -> None:
        """Wait for a slot (interactive, up to `max_wait`) or raise `StripeBusy`."""
        where, priority = endpoint(method, path), current_priority()
        deadline = self._clock() + (0.05 if priority is Priority.POSTPONABLE else self.max_wait)
        while True:
            wait = await self._try(where, priority)
            if wait <= 0:
                return
            if self._clock() + wait > deadline:
                raise StripeBusy(f"Stripe budget spent for {where}", retry_after=wait)
            await asyncio.sleep(wait)

    async def _try(self, where: str, priority: Priority) -> float:
        kv = await self._store()
        if kv is None:
            return schedule(self._local, self._clock(), where, self.rates, priority)
        try:
            return await self._try_shared(kv, where, priority)
        except (TimeoutError, nats.errors.Error) as exc:
            self._lost(exc)
            return schedule(self._local, self._clock(), where, self.rates, priority)

    async def _try_shared(self, kv: KeyValue, where: str, priority: Priority) -> float:
        """Compare-and-set until this process's view of the state was current."""
        while True:
            if self._cached is None:
                self._cached = await self._read(kv)
            state, revision = self._cached
            state = dict(state)
            wait = schedule(state, self._clock(), where, self.rates, priority)
            if wait > 0:
                self._cached = None  # another process may have moved it: read it afresh
                return wait
            value = json.dumps(state).encode()
            try:
                if revision:
                    revision = await kv.update(self._key, value, last=revision)
                else:
                    revision = await kv.create(self._key, value)
            except nats.js.errors.KeyWrongLastSequenceError:
                self._cached = None
                continue
            self._cached = (state, revision)
            return 0.0

    async def _read(self, kv: KeyValue) -> tuple[dict[str, float], int]:
        try:
            entry = await kv.get(self._key)
        except nats.js.errors.KeyNotFoundError:
            return {}, 0
        state: dict[str, Any] = json.loads(entry.value or b"{}")
        return {k: float(v) for k, v in state.items()}, entry.revision or 0

    async def _store(self) -> KeyValue | None:
        """The shared state's KV bucket, connecting on first use in each event loop."""
        if self._nats_url is None:
            return None
        loop = asyncio.get_running_loop()
        if self._kv is not None and self._loop is loop:
            return self._kv
        if self._clock() < self._retry_at:
            return None
        try:
            if self._nc is None or self._nc.is_closed or self._loop is not loop:
                self._nc = await asyncio.wait_for(
                    nats.connect(
                        self._nats_url.split(","), connect_timeout=1, max_reconnect_attempts=-1
                    ),
                    timeout=2,
                )
                self._loop = loop
            js = self._nc.jetstream(timeout=1)
            try:
                self._kv = await js.key_value(BUCKET)
            except nats.js.errors.BucketNotFoundError:
                self._kv = await js.create_key_value(
                    bucket=BUCKET, history=1, replicas=self._replicas
                )
        except (TimeoutError, nats.errors.Error, OSError) as exc:
            self._lost(exc)
            return None
        self._cached = None
        return self._kv

    def _lost(self, exc: BaseException) -> None:
        """NATS did not answer: keep the budget in this process and try again in 5 s."""
        log.warning("stripe_budget.local", error=repr(exc))
        self._kv, self._retry_at = None, self._clock() + 5.0

    async def close(self) -> None:
        if self._nc is not None and not self._nc.is_closed:
            await self._nc.close()
        self._kv = self._nc = None
