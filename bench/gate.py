"""The membership gate under load, and webhook → gate latency end to end."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid

import nats
import stripe
from nats.aio.msg import Msg

from bench import events
from bench.gateway import SECRET
from bench.load import (
    Connections,
    build_get,
    build_post,
    percentile,
    run_load,
    without_gc_pauses,
)
from bench.services import Service, service_token


async def gate_load(
    membership: Service, members: list[tuple[str, str]], *, total: int, concurrency: int = 64
) -> dict[str, object]:
    """`GET /entitlements/{user}/groups/{group}` for known members, `concurrency` clients."""
    token = service_token()
    auth = {"Authorization": f"Bearer {token}"}
    requests = [
        build_get(f"{membership.url}/entitlements/{user}/groups/{group}", auth)
        for user, group in members
    ]
    return (
        await run_load(membership.url, requests, total=total, concurrency=concurrency)
    ).summary()


GROUP = "g_e2e"
RECHECK_SECONDS = 0.5
"""How long a waiting client waits for the activation to be announced before it asks the gate
anyway."""


async def webhook_to_gate(
    gateway_url: str, membership: Service, nats_url: str, *, rate: float, seconds: float
) -> tuple[dict[str, object], list[tuple[str, str]]]:
    """Send signed subscription events at a steady `rate`; for each, the time from the
    gateway's 200 until the gate answers active.

    A waiting client asks the gate when membership announces the activation
    (`membership.activated`, published after the commit, so the gate must already agree) and
    otherwise every `RECHECK_SECONDS`. Clients polling the gate every few milliseconds would
    make their own requests the machine's main load, and the figure would measure them."""
    auth = {"Authorization": f"Bearer {service_token()}"}
    latencies: list[float] = []
    to_announced: list[float] = []
    announced_at: dict[tuple[str, str], float] = {}
    members: list[tuple[str, str]] = []
    announced: dict[tuple[str, str], asyncio.Event] = {}
    gateway, gate = Connections(gateway_url), Connections(membership.url)
    webhook_url = f"{gateway_url}/webhooks/stripe"

    async def on_activated(msg: Msg) -> None:
        event = json.loads(msg.data)
        key = (event["user_id"], event["group_id"])
        waiting = announced.get(key)
        if waiting is not None:
            announced_at.setdefault(key, time.perf_counter())
            waiting.set()

    def prepared() -> tuple[str, bytes, bytes]:
        """A new member's user id, signed webhook request and gate request."""
        user = f"user_{uuid.uuid4().hex[:10]}"
        body = events.encode(events.subscription_created(user, GROUP))
        header = stripe.WebhookSignature.generate_signature_header(body.decode(), SECRET)
        headers = {"Stripe-Signature": header, "Content-Type": "application/json"}
        ask = build_get(f"{membership.url}/entitlements/{user}/groups/{GROUP}", auth)
        return user, build_post(webhook_url, body, headers), ask

    async def one(user: str, webhook: bytes, ask: bytes) -> None:
        activated = announced[(user, GROUP)] = asyncio.Event()
        status, answer = await gateway.send(webhook)
        accepted = time.perf_counter()
        assert status == 200, answer
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(activated.wait(), RECHECK_SECONDS)
            if json.loads((await gate.send(ask))[1])["active"]:
                break
        latencies.append((time.perf_counter() - accepted) * 1000)
        if (at := announced_at.get((user, GROUP))) is not None:
            to_announced.append((at - accepted) * 1000)
        members.append((user, GROUP))

    # Built beforehand, so that the load generator takes less of the machine while it runs.
    requests = [prepared() for _ in range(int(rate * seconds))]
    nc = await nats.connect(nats_url)
    await nc.subscribe("membership.activated", cb=on_activated)
    tasks = []
    try:
        with without_gc_pauses():
            started = time.perf_counter()
            for i, request in enumerate(requests):
                await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
                tasks.append(asyncio.create_task(one(*request)))
            await asyncio.gather(*tasks)
    finally:
        await nc.close()
        gateway.close()
        gate.close()
    summary = {
        "rate": rate,
        "recheck_ms": RECHECK_SECONDS * 1000,
        "events": len(latencies),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        # The first stage: membership applied the event and its relay announced it.
        "announced_p50_ms": round(percentile(to_announced, 50), 1),
        "announced_p99_ms": round(percentile(to_announced, 99), 1),
    }
    return summary, members
