"""Each consumer's sustained rate with its real database effects: a backlog of realistic
events is published first, then the service is started and timed until it has drained."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import nats
from nats.js import JetStreamContext

from bench import events
from bench.cpu import CpuMeter
from bench.load import kept_up
from bench.services import running
from bench.stripe_calls import StripeEmulator
from tollgate_shared.infra.provide import Infrastructure
from tollgate_shared.messaging.publish import publish_with_ack
from tollgate_shared.messaging.streams import DOMAIN, STRIPE, ensure_streams


@dataclass(frozen=True)
class Workload:
    """What one service consumes, and how to make one such event."""

    service: str
    stream: str
    make: Callable[[str, str], tuple[str, bytes, str]]
    """(user, group) -> (subject, payload, message id)."""


def _stripe(factory: Callable[[str, str], dict]) -> Callable[[str, str], tuple[str, bytes, str]]:
    def make(user: str, group: str) -> tuple[str, bytes, str]:
        event = factory(user, group)
        return f"stripe.{event['type']}", events.encode(event), event["id"]

    return make


def _domain(factory: Callable[[str, str], object]) -> Callable[[str, str], tuple[str, bytes, str]]:
    def make(user: str, group: str) -> tuple[str, bytes, str]:
        event = factory(user, group)
        return event.subject, event.model_dump_json().encode(), event.id  # type: ignore[attr-defined]

    return make


WORKLOADS = (
    Workload("membership", STRIPE.name, _stripe(events.subscription_created)),
    Workload("ledger", STRIPE.name, _stripe(events.charge_succeeded)),
    Workload("checkout", DOMAIN.name, _domain(events.membership_activated)),
    Workload("notifications", DOMAIN.name, _domain(events.payment_recorded)),
)


async def publish_backlog(js: JetStreamContext, workload: Workload, count: int) -> None:
    """`count` events for distinct members of a few groups, pipelined."""
    semaphore = asyncio.Semaphore(256)

    async def one(i: int) -> None:
        subject, payload, msg_id = workload.make(f"user_{uuid.uuid4().hex[:10]}", f"g{i % 20}")
        async with semaphore:
            await publish_with_ack(js, subject, payload, msg_id=msg_id, stream=workload.stream)

    await asyncio.gather(*(one(i) for i in range(count)))


async def drained(js: JetStreamContext, stream: str, durable: str) -> bool:
    try:
        info = await js.consumer_info(stream, durable)
    except nats.js.errors.NotFoundError:
        return False
    return info.num_pending == 0 and info.num_ack_pending == 0 and info.delivered.stream_seq > 0


async def drain_rate(
    infra: Infrastructure,
    var_dir: Path,
    workloads: tuple[Workload, ...],
    per_service: int,
    mail_env: dict[str, str],
    stripe: StripeEmulator,
    *,
    replicas: int = 1,
) -> dict[str, object]:
    """Start `replicas` processes of each service (sharing its durables and database), publish
    each workload's backlog, time until all have drained; count the Stripe calls made."""
    nc = await nats.connect(infra.nats_url)
    js = nc.jetstream()
    await ensure_streams(js)
    with ExitStack() as stack:
        services = [
            stack.enter_context(
                running(w.service, infra, var_dir, replica=r, **mail_env, **stripe.env)
            )
            for w in workloads
            for r in range(1, replicas + 1)
        ]
        # Publishing (~10k/s) outpaces any consumer, so the time to drain is the consumers'.
        started = time.perf_counter()
        await asyncio.gather(*(publish_backlog(js, w, per_service) for w in workloads))
        for workload in workloads:
            while not await drained(js, workload.stream, workload.service):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        seconds = time.perf_counter() - started
        rss = {s.name: s.peak_rss_mib() for s in services}
    await nc.close()
    total = per_service * len(workloads)
    return {
        "services": [w.service for w in workloads],
        "replicas": replicas,
        "events": total,
        "seconds": round(seconds, 2),
        "per_second": round(total / seconds, 1),
        "peak_rss_mib": rss,
        "stripe_calls": stripe.usage().per(total),
    }


async def lag(js: JetStreamContext, workloads: tuple[Workload, ...]) -> int:
    """Messages the workloads' durables have not finished: pending delivery plus unacked."""
    total = 0
    for workload in workloads:
        info = await js.consumer_info(workload.stream, workload.service)
        total += info.num_pending + info.num_ack_pending
    return total


async def steady(
    js: JetStreamContext,
    workloads: tuple[Workload, ...],
    rate: int,
    seconds: float,
    meter: CpuMeter,
) -> dict[str, object]:
    """Publish the workloads' events in turn at `rate` a second for `seconds`. Kept up
    (`load.kept_up`): the last publish acked within a second of being due, and the lag left
    then gone within a second (a lag that grew with the run is not). The CPU time of each
    process is taken over the publishing."""
    loop = asyncio.get_running_loop()
    before = meter.reading()
    tick, sent, peak = 0.05, 0, 0
    publishing: set[asyncio.Task[object]] = set()
    start = next_sample = loop.time()
    while (now := loop.time()) - start < seconds:
        due = min(rate * seconds, rate * (now - start + tick))
        while sent < due:
            workload = workloads[sent % len(workloads)]
            subject, payload, msg_id = workload.make(
                f"user_{uuid.uuid4().hex[:10]}", f"g{sent % 20}"
            )
            task = asyncio.create_task(
                publish_with_ack(js, subject, payload, msg_id=msg_id, stream=workload.stream)
            )
            publishing.add(task)
            task.add_done_callback(publishing.discard)
            sent += 1
        if now >= next_sample:
            peak, next_sample = max(peak, await lag(js, workloads)), now + 0.5
        await asyncio.sleep(max(0.0, start + (int((now - start) / tick) + 1) * tick - loop.time()))
    await asyncio.gather(*publishing)
    cpu = meter.since(before)
    stopped = loop.time()
    answered_after = stopped - start
    at_stop = await lag(js, workloads)
    while await lag(js, workloads) and loop.time() - stopped < 120:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    drained_after = loop.time() - stopped
    return {
        "rate": rate,
        "events": sent,
        "answered_after_s": round(answered_after, 2),
        "rate_taken": round(sent / answered_after),
        "peak_lag": max(peak, at_stop),
        "lag_at_stop": at_stop,
        "drained_after_s": round(drained_after, 2),
        "kept_up": kept_up(seconds, answered_after, drained_after),
        "cpu_seconds": cpu,
        "cpu_ms_per_event": round(sum(cpu.values()) * 1000 / sent, 2),
    }


async def sustained(
    infra: Infrastructure,
    var_dir: Path,
    rates: tuple[int, ...],
    seconds: float,
    mail_env: dict[str, str],
    stripe: StripeEmulator,
) -> dict[str, object]:
    """All four services under steady mixed load, one step per rate (lowest first, stopping
    after the first rate they do not keep up with), with the Stripe calls of each step."""
    nc = await nats.connect(infra.nats_url)
    js = nc.jetstream()
    await ensure_streams(js)
    steps: list[dict[str, object]] = []
    with ExitStack() as stack:
        services = [
            stack.enter_context(running(w.service, infra, var_dir, **mail_env, **stripe.env))
            for w in WORKLOADS
        ]
        meter = CpuMeter({s.name: s.process.proc.pid for s in services})
        for rate in rates:
            before = stripe.usage()
            step = await steady(js, WORKLOADS, rate, seconds, meter)
            step["stripe_calls"] = (stripe.usage() - before).per(int(step["events"]))  # type: ignore[call-overload]
            steps.append(step)
            if not steps[-1]["kept_up"]:
                break
        rss = {s.name: s.peak_rss_mib() for s in services}
    await nc.close()
    kept_up = [rate for rate, step in zip(rates, steps, strict=False) if step["kept_up"]]
    return {
        "seconds_per_step": seconds,
        "steps": steps,
        "highest_rate_kept_up": max(kept_up, default=0),
        "peak_rss_mib": rss,
    }
