"""Stripe's API rate limits: a global bucket per account and one per endpoint, and the usage
counters `GET /_emulator/usage` reports."""

import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from stripe_emulator.errors import StripeError


@dataclass(frozen=True)
class Rates:
    """Requests a second: all of an account's API requests, and each endpoint's."""

    global_per_second: float
    endpoint_per_second: float


RATES: dict[str, Rates | None] = {
    "off": None,
    "test": Rates(global_per_second=25, endpoint_per_second=25),
    "live": Rates(global_per_second=100, endpoint_per_second=25),
    "storm": Rates(global_per_second=0, endpoint_per_second=0),
}
"""Stripe's documented defaults: 100 requests/s per account in live mode, 25 in test mode
(sandbox), and 25/s for each endpoint (method and path template) unless stated otherwise;
`storm`, for tests: every request answered 429, as while an account is far over its limit."""


@dataclass
class Bucket:
    """A token bucket holding at most one second's worth of requests."""

    rate: float
    tokens: float
    at: float

    def refill(self, now: float) -> None:
        self.tokens = min(self.rate, self.tokens + (now - self.at) * self.rate)
        self.at = now


@dataclass
class Usage:
    """API requests answered (rate-limited ones included) and how many of them were 429s."""

    requests: int = 0
    rate_limited: int = 0
    endpoints: Counter[str] = field(default_factory=Counter)
    """Requests per endpoint (method and path template)."""
    endpoints_rate_limited: Counter[str] = field(default_factory=Counter)
    """The 429s among them, per endpoint."""

    def count(self, endpoint: str, *, admitted: bool) -> None:
        self.requests += 1
        self.rate_limited += not admitted
        self.endpoints[endpoint] += 1
        if not admitted:
            self.endpoints_rate_limited[endpoint] += 1


@dataclass
class Limiter:
    """Admits a request when both its account's bucket and its endpoint's have a token left;
    a refused request spends neither. `rates` None: every request is admitted."""

    rates: Rates | None
    clock: Callable[[], float] = time.monotonic
    usage: Usage = field(default_factory=Usage)
    by_key: defaultdict[str, Usage] = field(default_factory=lambda: defaultdict(Usage))
    """The same counts per API key (Stripe's account here), to tell apart who called."""
    per_key: dict[str, Rates | None] = field(default_factory=dict)
    """Limits switched for one API key (account) only, in place of `rates`."""
    _buckets: dict[tuple[str, str], Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self, account: str, endpoint: str) -> bool:
        with self._lock:
            admitted = self._admit(account, endpoint)
            self.usage.count(endpoint, admitted=admitted)
            self.by_key[account].count(endpoint, admitted=admitted)
            return admitted

    @property
    def mode(self) -> str:
        """The name of the limits in force (a key of `RATES`)."""
        return next(name for name, rates in RATES.items() if rates == self.rates)

    def switch(self, mode: str, api_key: str | None = None) -> None:
        """Enforce `mode`'s limits from now on, every bucket full (a benchmark records its
        flows with them off, then measures with them on); for `api_key` only, if given (a
        fault test storms the services' key while the harness keeps reading)."""
        with self._lock:
            if api_key is None:
                self.rates = RATES[mode]
                self.per_key.clear()
            else:
                self.per_key[api_key] = RATES[mode]
            self._buckets.clear()

    def _admit(self, account: str, endpoint: str) -> bool:
        rates = self.per_key.get(account, self.rates)
        if rates is None:
            return True
        now = self.clock()
        buckets = (
            self._bucket((account, ""), rates.global_per_second, now),
            self._bucket((account, endpoint), rates.endpoint_per_second, now),
        )
        if all(bucket.tokens >= 1 for bucket in buckets):
            for bucket in buckets:
                bucket.tokens -= 1
            return True
        return False

    def _bucket(self, key: tuple[str, str], rate: float, now: float) -> Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = Bucket(rate=rate, tokens=rate, at=now)
        bucket.refill(now)
        return bucket

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()
            self.per_key.clear()
            self.usage = Usage()
            self.by_key.clear()


def rate_limited() -> StripeError:
    """Stripe's 429: `invalid_request_error` with code `rate_limit` (the SDK raises
    `RateLimitError` on the status)."""
    return StripeError(
        429,
        "Request rate limit exceeded. Learn more about rate limits here "
        "https://stripe.com/docs/rate-limits.",
        code="rate_limit",
        extra={"doc_url": "https://stripe.com/docs/error-codes/rate-limit"},
    )
