"""Stripe calls per event: each part's services talk to a Stripe emulator enforcing Stripe's
live-mode rate limits, which counts every `/v1` request they make (429s included)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tollgate_shared.infra.process import ServerProcess, free_port


@dataclass(frozen=True)
class Usage:
    """`/v1` requests the emulator answered, and how many of them were 429s."""

    requests: int
    rate_limited: int

    def __sub__(self, earlier: Usage) -> Usage:
        return Usage(self.requests - earlier.requests, self.rate_limited - earlier.rate_limited)

    def per(self, events: int) -> dict[str, object]:
        """The figures a part reports for `events` events (or sessions)."""
        return {
            "requests": self.requests,
            "rate_limited": self.rate_limited,
            "per_event": round(self.requests / events, 3) if events else None,
        }


@dataclass(frozen=True)
class StripeEmulator:
    url: str

    @property
    def env(self) -> dict[str, str]:
        """What a service needs to call this emulator instead of Stripe."""
        return {"STRIPE_API_BASE": self.url}

    def usage(self) -> Usage:
        answer = httpx.get(f"{self.url}/_emulator/usage", timeout=10)
        answer.raise_for_status()
        body = answer.json()
        return Usage(body["requests"], body["rate_limited"])


@contextmanager
def stripe_emulator(var_dir: Path) -> Iterator[StripeEmulator]:
    """A Stripe emulator with live-mode rate limits, as its own process, for the block."""
    port = free_port()
    process = ServerProcess(
        "stripe-emulator",
        [sys.executable, "-m", "stripe_emulator", "--port", str(port), "--rate-limits", "live"],
        log_path=var_dir / "bench-stripe-emulator.log",
    )
    try:
        process.wait_for_port("127.0.0.1", port)
        yield StripeEmulator(f"http://127.0.0.1:{port}")
    finally:
        process.stop()
