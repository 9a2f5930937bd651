"""The membership gate under load, and webhook → gate latency end to end."""

from __future__ import annotations

import asyncio
import time
import uuid
from urllib.parse import urlsplit

import httpx
import stripe

from bench import events
from bench.gateway import SECRET
from bench.load import run_load
from bench.services import Service, service_token


def build_get(url: str, token: str) -> bytes:
    parts = urlsplit(url)
    return (
        f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Authorization: Bearer {token}\r\n\r\n"
    ).encode()


async def gate_load(
    membership: Service, members: list[tuple[str, str]], *, total: int, concurrency: int = 64
) -> dict[str, object]:
    """`GET /entitlements/{user}/groups/{group}` for known members, `concurrency` clients."""
    token = service_token()
    requests = [
        build_get(f"{membership.url}/entitlements/{user}/groups/{group}", token)
        for user, group in members
    ]
    return (
        await run_load(membership.url, requests, total=total, concurrency=concurrency)
    ).summary()


POLL_SECONDS = 0.01
"""How often a waiting client asks the gate again: the figures' resolution. Polling much
faster makes the pollers (each a gate request) the machine's main load."""


async def webhook_to_gate(
    gateway_url: str, membership: Service, *, rate: float, seconds: float
) -> tuple[dict[str, object], list[tuple[str, str]]]:
    """Send signed subscription events at a steady `rate`; for each, the time from the
    gateway's 200 until the gate answers active (asked every `POLL_SECONDS`)."""
    token = {"Authorization": f"Bearer {service_token()}"}
    latencies: list[float] = []
    members: list[tuple[str, str]] = []
    async with httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=200)) as http:

        async def active(gate: str) -> bool:
            try:
                return bool((await http.get(gate, headers=token)).json()["active"])
            except httpx.TransportError:  # a pooled connection closed by the server: ask again
                return False

        async def one() -> None:
            user, group = f"user_{uuid.uuid4().hex[:10]}", "g_e2e"
            body = events.encode(events.subscription_created(user, group))
            header = stripe.WebhookSignature.generate_signature_header(body.decode(), SECRET)
            response = await http.post(
                f"{gateway_url}/webhooks/stripe",
                content=body,
                headers={"Stripe-Signature": header, "Content-Type": "application/json"},
            )
            accepted = time.perf_counter()
            assert response.status_code == 200, response.text
            gate = f"{membership.url}/entitlements/{user}/groups/{group}"
            while not await active(gate):  # noqa: ASYNC110 - polling an HTTP API is the point
                await asyncio.sleep(POLL_SECONDS)
            latencies.append((time.perf_counter() - accepted) * 1000)
            members.append((user, group))

        tasks = []
        started = time.perf_counter()
        for i in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    ordered = sorted(latencies)
    summary = {
        "rate": rate,
        "poll_ms": POLL_SECONDS * 1000,
        "events": len(ordered),
        "p50_ms": round(ordered[len(ordered) // 2], 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1),
    }
    return summary, members
