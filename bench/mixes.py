"""Realistic mixes of Stripe's events through the whole pipeline: signed webhooks to the
gateway at a steady rate, then every consumer, against an emulator with Stripe's live-mode
limits. The events are Stripe's own (recorded from real flows, `flows.py`)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Protocol

import httpx
import nats
import stripe
from nats.js import JetStreamContext

from bench import flows
from bench.clones import Customer
from bench.cpu import CpuMeter
from bench.gateway import SECRET
from bench.load import Connections, build_post, kept_up, run_load
from bench.services import Service, running
from bench.stripe_calls import StripeEmulator, Usage
from tollgate_shared.infra.provide import Infrastructure
from tollgate_shared.messaging.streams import DLQ, DOMAIN, STRIPE

SERVICES = ("checkout", "membership", "ledger", "notifications")
CUSTOMERS = 1000
FOREIGN_MIX = {
    "checkout.session.completed": 5,
    "customer.subscription.created": 5,
    "invoice.paid": 7,
    "charge.refunded": 3,
}
"""Another app's events, out of 20: each of its customers subscribes through Checkout; two in
five are renewed, three in five have their first payment refunded."""
OUTCOMES = ("retried", "deferred", "dead_lettered")
CONSUMED = re.compile(r"^tollgate_consumer_messages_total\{(.*)\} (\S+)$", re.MULTILINE)
FOREIGN = re.compile(r"^tollgate_foreign_events_total\{(.*)\} (\S+)$", re.MULTILINE)
LABEL = re.compile(r'(\w+)="([^"]*)"')


def subscribed_types() -> frozenset[str]:
    """Every Stripe event type one of the consumers handles, from their handler maps."""
    from checkout.entrypoints.consumers import STRIPE_HANDLERS as checkout
    from ledger.entrypoints.consumers import HANDLERS as ledger
    from membership.entrypoints.consumers import HANDLERS as membership
    from notifications.entrypoints.consumers import STRIPE_HANDLERS as notifications

    return frozenset([*checkout, *ledger, *membership, *notifications])


class Mix(Protocol):
    async def take(self, count: int) -> list[dict[str, Any]]:
        """The next `count` events, never sent before."""


class ForeignMix:
    """Another app's two recorded stories copied for `CUSTOMERS` customers in turn, each with
    its own customer id and address, every other object fresh in each copy."""

    def __init__(self, stories: dict[str, list[dict[str, Any]]]) -> None:
        self.stories = stories
        self.customers = [
            Customer({flows.FOREIGN_EMAIL: f"buyer{n}@bakery.test"}) for n in range(CUSTOMERS)
        ]
        self.copies = 0
        self.pending: list[dict[str, Any]] = []

    async def take(self, count: int) -> list[dict[str, Any]]:
        while len(self.pending) < count:
            n = self.copies % CUSTOMERS
            story = self.stories["renewed" if n % 5 < 2 else "refunded"]
            self.pending += self.customers[n].copy(story)
            self.copies += 1
        taken, self.pending = self.pending[:count], self.pending[count:]
        return taken


class TollgateMix:
    """Tollgate's members' flows, recorded a round at a time (Stripe's limits off meanwhile):
    every object the events name exists in the emulator the services read."""

    def __init__(self, emulator: flows.Emulator, tollgate: flows.Tollgate) -> None:
        self.emulator = emulator
        self.tollgate = tollgate
        self.types = subscribed_types()
        self.pending: list[dict[str, Any]] = []
        self.recording_seconds = 0.0

    async def take(self, count: int) -> list[dict[str, Any]]:
        while len(self.pending) < count:
            started = time.perf_counter()
            await self.emulator.rate_limits("off")
            self.pending += await self.tollgate.round(self.types)
            await self.emulator.rate_limits("live")
            self.recording_seconds += time.perf_counter() - started
        taken, self.pending = self.pending[:count], self.pending[count:]
        return taken


def signed(url: str, event: dict[str, Any]) -> bytes:
    """The webhook request Stripe would send for `event`, signed now with the gateway's secret."""
    body = json.dumps(event).encode()
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), SECRET)
    return build_post(url, body, {"Stripe-Signature": header, "Content-Type": "application/json"})


async def lag(js: JetStreamContext) -> int:
    """Messages the consumers of both streams have not finished: pending plus unacked."""
    total = 0
    for stream in (STRIPE.name, DOMAIN.name):
        for info in await js.consumers_info(stream):
            total += (info.num_pending or 0) + (info.num_ack_pending or 0)
    return total


async def settle(js: JetStreamContext, limit: float = 300.0) -> float:
    """Seconds until the consumers' lag is gone (at most `limit`)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while await lag(js) and loop.time() - started < limit:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    return loop.time() - started


class Probe:
    """What the services did over a span: Stripe calls, consumer outcomes, dead letters."""

    def __init__(self, stripe: StripeEmulator, services: Sequence[Service], js: JetStreamContext):
        self.stripe, self.services, self.js = stripe, services, js

    async def reading(self) -> tuple[Usage, Counter[tuple[str, str]], int]:
        outcomes: Counter[tuple[str, str]] = Counter()
        async with httpx.AsyncClient(timeout=10) as http:
            for service in self.services:
                metrics = (await http.get(f"{service.url}/metrics")).text
                for labels, value in CONSUMED.findall(metrics):
                    outcome = dict(LABEL.findall(labels))["outcome"]
                    if outcome in OUTCOMES:
                        outcomes[(service.name, outcome)] += int(float(value))
                for _, value in FOREIGN.findall(metrics):
                    outcomes[(service.name, "foreign")] += int(float(value))
        dead = (await self.js.stream_info(DLQ.name)).state.messages
        return self.stripe.services_usage(), outcomes, dead

    async def since(
        self, before: tuple[Usage, Counter[tuple[str, str]], int], events: int
    ) -> dict[str, object]:
        usage, outcomes, dead = await self.reading()
        changed = outcomes - before[1]
        return {
            "stripe_calls": (usage - before[0]).per(events),
            "dead_letters": dead - before[2],
            "consumer_outcomes": {
                s.name: {o: changed[(s.name, o)] for o in (*OUTCOMES, "foreign")}
                for s in self.services
            },
        }


async def steady(
    gateway_url: str,
    events: list[dict[str, Any]],
    rate: int,
    meter: CpuMeter,
    probe: Probe,
) -> dict[str, object]:
    """POST `events` as signed webhooks at `rate` a second. Kept up (`load.kept_up`): the last
    webhook answered within a second of being due, and the consumers' lag left then gone
    within a second. CPU time and Stripe calls are taken from the step's start until the lag
    is gone: the cost of all of its events, also of those a step that was not kept up left
    behind."""
    requests = [signed(gateway_url, e) for e in events]  # signed beforehand: not in the step
    gateway, statuses = Connections(gateway_url), Counter[int]()
    senders = asyncio.Semaphore(64)

    async def send(request: bytes) -> None:
        async with senders:
            statuses[(await gateway.send(request))[0]] += 1

    loop = asyncio.get_running_loop()
    before, cpu_before = await probe.reading(), meter.reading()
    tick, sent, peak = 0.05, 0, 0
    sending: set[asyncio.Task[None]] = set()
    start = next_sample = loop.time()
    while sent < len(requests):
        now = loop.time()
        due = min(len(requests), int(rate * (now - start + tick)))
        while sent < due:
            task = asyncio.create_task(send(requests[sent]))
            sending.add(task)
            task.add_done_callback(sending.discard)
            sent += 1
        if now >= next_sample:
            peak, next_sample = max(peak, await lag(probe.js)), now + 0.5
        await asyncio.sleep(max(0.0, start + (int((now - start) / tick) + 1) * tick - loop.time()))
    await asyncio.gather(*sending)
    answered_after = loop.time() - start
    at_stop = await lag(probe.js)
    drained_after = await settle(probe.js)
    cpu = meter.since(cpu_before)
    gateway.close()
    return {
        "rate": rate,
        "events": sent,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "answered_after_s": round(answered_after, 2),
        "rate_taken": round(sent / answered_after),
        "peak_lag": max(peak, at_stop),
        "lag_at_stop": at_stop,
        "drained_after_s": round(drained_after, 2),
        "kept_up": kept_up(len(requests) / rate, answered_after, drained_after),
        **await probe.since(before, sent),
        **cpu_figures(cpu, sent),
    }


def cpu_figures(cpu: dict[str, float], events: int) -> dict[str, object]:
    """CPU-seconds per process, and per event (ms) per process and for them all."""
    return {
        "cpu_seconds": cpu,
        "cpu_ms_per_event": {name: round(s * 1000 / events, 3) for name, s in cpu.items()},
        "cpu_ms_per_event_all": round(sum(cpu.values()) * 1000 / events, 3),
    }


async def drain(
    gateway_url: str, events: list[dict[str, Any]], meter: CpuMeter, probe: Probe
) -> dict[str, object]:
    """A backlog: every event POSTed as fast as 64 senders can, timed until the consumers'
    lag is gone."""
    requests = [signed(gateway_url, e) for e in events]
    before, cpu_before = await probe.reading(), meter.reading()
    started = time.perf_counter()
    posted = await run_load(gateway_url, requests, total=len(requests), concurrency=64)
    await settle(probe.js)
    seconds = time.perf_counter() - started
    return {
        "events": len(events),
        "posted_in_s": round(posted.seconds, 2),
        "statuses": posted.summary()["statuses"],
        "seconds": round(seconds, 2),
        "per_second": round(len(events) / seconds, 1),
        **await probe.since(before, len(events)),
        **cpu_figures(meter.since(cpu_before), len(events)),
    }


async def run(
    mix: str,
    infra: Infrastructure,
    var_dir: Path,
    mail_env: dict[str, str],
    emulator_process: StripeEmulator,
    *,
    rates: Sequence[int],
    seconds: float,
    backlog: int,
) -> dict[str, object]:
    """One mix (`foreign` or `tollgate`) through the gateway and all four consumers: steps of
    `seconds` at each rate until one is not kept up, then a backlog of `backlog` events."""
    emulator = flows.Emulator(emulator_process.url)
    env = {**mail_env, **emulator_process.env}
    nc = await nats.connect(infra.nats_url)
    with ExitStack() as stack:
        gateway = stack.enter_context(
            running("webhook-gateway", infra, var_dir, STRIPE_WEBHOOK_SECRET=SECRET, **env)
        )
        services = [stack.enter_context(running(s, infra, var_dir, **env)) for s in SERVICES]
        started = time.perf_counter()
        await emulator.rate_limits("off")
        source: ForeignMix | TollgateMix
        if mix == "foreign":
            source = ForeignMix(await flows.foreign_flows(emulator, FOREIGN_MIX))
        else:
            tollgate = flows.Tollgate(emulator, services[0], CUSTOMERS)
            await tollgate.catalog()
            source = TollgateMix(emulator, tollgate)
        await emulator.rate_limits("live")
        prepared = time.perf_counter() - started
        processes = {s.name: s.process.proc.pid for s in [gateway, *services]}
        meter = CpuMeter({**processes, "stripe emulator": emulator_process.pid})
        probe = Probe(emulator_process, services, nc.jetstream())
        url = f"{gateway.url}/webhooks/stripe"
        steps: list[dict[str, object]] = []
        types: Counter[str] = Counter()
        for rate in rates:
            events = await source.take(int(rate * seconds))
            types.update(e["type"] for e in events)
            steps.append(await steady(url, events, rate, meter, probe))
            if not steps[-1]["kept_up"]:
                break
        events = await source.take(backlog)
        types.update(e["type"] for e in events)
        drained = await drain(url, events, meter, probe)
        rss = {s.name: s.peak_rss_mib() for s in [gateway, *services]}
    await nc.close()
    await emulator.close()
    if isinstance(source, TollgateMix):
        await source.tollgate.close()
        prepared += source.recording_seconds
    kept_up = [int(step["rate"]) for step in steps if step["kept_up"]]  # type: ignore[call-overload]
    return {
        "customers": CUSTOMERS,
        "event_types": dict(types.most_common()),
        "recording_s": round(prepared, 1),
        "seconds_per_step": seconds,
        "steps": steps,
        "highest_rate_kept_up": max(kept_up, default=0),
        "backlog": drained,
        "peak_rss_mib": rss,
    }
