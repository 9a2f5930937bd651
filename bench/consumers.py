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
from bench.services import running
from tollgate_shared.infra import Infrastructure
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
) -> dict[str, object]:
    """Start the services, publish each workload's backlog, time until all have drained."""
    nc = await nats.connect(infra.nats_url)
    js = nc.jetstream()
    await ensure_streams(js)
    with ExitStack() as stack:
        services = [
            stack.enter_context(running(w.service, infra, var_dir, **mail_env)) for w in workloads
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
        "events": total,
        "seconds": round(seconds, 2),
        "per_second": round(total / seconds, 1),
        "peak_rss_mib": rss,
    }
