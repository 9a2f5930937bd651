"""Stripe calls per event: each part's services talk to a Stripe emulator enforcing Stripe's
live-mode rate limits, which counts every `/v1` request they make (429s included)."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tollgate_shared.infra.process import ServerProcess, free_port
from tollgate_shared.infra.settings import DEV_STRIPE_KEY


@dataclass(frozen=True)
class Usage:
    """`/v1` requests the emulator answered, and how many of them were 429s (per endpoint too
    when read for one API key)."""

    requests: int
    rate_limited: int
    endpoints: Mapping[str, int] = field(default_factory=dict)
    endpoints_rate_limited: Mapping[str, int] = field(default_factory=dict)

    def __sub__(self, earlier: Usage) -> Usage:
        return Usage(
            self.requests - earlier.requests,
            self.rate_limited - earlier.rate_limited,
            +(Counter(self.endpoints) - Counter(earlier.endpoints)),
            +(Counter(self.endpoints_rate_limited) - Counter(earlier.endpoints_rate_limited)),
        )

    def per(self, events: int) -> dict[str, object]:
        """The figures a part reports for `events` events (or sessions)."""
        figures: dict[str, object] = {
            "requests": self.requests,
            "rate_limited": self.rate_limited,
            "per_event": round(self.requests / events, 3) if events else None,
        }
        if self.endpoints:
            figures["by_endpoint"] = {
                endpoint: {
                    "requests": n,
                    "rate_limited": self.endpoints_rate_limited.get(endpoint, 0),
                    "per_event": round(n / events, 3) if events else None,
                }
                for endpoint, n in sorted(self.endpoints.items(), key=lambda item: -item[1])
            }
        return figures


@dataclass(frozen=True)
class StripeEmulator:
    url: str
    pid: int

    @property
    def env(self) -> dict[str, str]:
        """What a service needs to call this emulator instead of Stripe, sharing one Stripe
        budget at live mode's rate (with its margin) as against Stripe itself."""
        return {"STRIPE_API_BASE": self.url, "STRIPE_RATE_LIMIT": "90"}

    def usage(self, api_key: str | None = None) -> Usage:
        """Every request so far, or those made with `api_key` (then per endpoint too)."""
        params = {"api_key": api_key} if api_key else None
        answer = httpx.get(f"{self.url}/_emulator/usage", params=params, timeout=10)
        answer.raise_for_status()
        body = answer.json()
        return Usage(
            body["requests"],
            body["rate_limited"],
            body.get("endpoints", {}),
            body.get("endpoints_rate_limited", {}),
        )

    def services_usage(self) -> Usage:
        """The services' requests (they call with the development key), per endpoint."""
        return self.usage(DEV_STRIPE_KEY)


@contextmanager
def stripe_emulator(var_dir: Path, *, test_mode: bool = False) -> Iterator[StripeEmulator]:
    """A Stripe emulator with live-mode rate limits, as its own process, for the block (with
    `test_mode`, its test controls too: flows are driven and recorded through them)."""
    port = free_port()
    argv = [sys.executable, "-m", "stripe_emulator", "--port", str(port), "--rate-limits", "live"]
    process = ServerProcess(
        "stripe-emulator",
        [*argv, "--test-mode"] if test_mode else argv,
        log_path=var_dir / "bench-stripe-emulator.log",
    )
    try:
        process.wait_for_port("127.0.0.1", port)
        yield StripeEmulator(f"http://127.0.0.1:{port}", process.proc.pid)
    finally:
        process.stop()
