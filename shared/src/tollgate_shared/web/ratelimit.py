"""Per-user rate limits for expensive or abusable endpoints (429 with `Retry-After`).

The counts live in the process's memory: with N replicas a user may make up to N times the
limit. That bounds abuse of one instance (Stripe calls, claim guessing) without a shared store.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from fastapi import Depends, Request

from tollgate_shared.web.auth import CurrentUser, Principal
from tollgate_shared.web.errors import ApiError, may_answer


class RateLimited(ApiError):
    status_code = 429
    code = "rate_limited"


class SlidingWindowLimiter:
    """At most `limit` hits per key in any `window` seconds (a log of recent hit times)."""

    def __init__(
        self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._next_sweep = clock() + window

    def hit(self, key: str) -> float | None:
        """Count a hit for `key`; None if allowed, else the seconds until one is allowed again."""
        now = self._clock()
        self._sweep(now)
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return hits[0] + self.window - now
        hits.append(now)
        return None

    def _sweep(self, now: float) -> None:
        # Forget keys idle for a whole window, so memory follows active users only.
        if now < self._next_sweep:
            return
        self._hits = {k: h for k, h in self._hits.items() if h and h[-1] > now - self.window}
        self._next_sweep = now + self.window


def rate_limited(scope: str) -> object:
    """A route dependency: each caller may hit routes of `scope` at most `RATE_LIMIT_REQUESTS`
    times per `RATE_LIMIT_WINDOW_SECONDS`; more answer 429 `rate_limited` with `Retry-After`."""

    @may_answer(429)
    async def check(request: Request, principal: CurrentUser) -> Principal:
        limiters: dict[str, SlidingWindowLimiter] = request.app.state.rate_limiters
        settings = request.app.state.settings
        if settings.rate_limit_requests == 0:
            return principal
        limiter = limiters.get(scope)
        if limiter is None:
            limiter = limiters[scope] = SlidingWindowLimiter(
                settings.rate_limit_requests, settings.rate_limit_window_seconds
            )
        wait = limiter.hit(principal.user_id)
        if wait is not None:
            raise RateLimited(
                f"too many requests; retry in {math.ceil(wait)} s",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        return principal

    return Depends(check)
