"""The machine's ceilings, measured in the same run as the services."""

from __future__ import annotations

import asyncio
import time
import uuid

import nats
import psycopg

from tollgate_shared.messaging.publish import publish_with_ack
from tollgate_shared.messaging.streams import STRIPE, ensure_streams


async def jetstream_publish_rate(
    nats_url: str, *, total: int = 20_000, window: int = 256, size: int = 3000
) -> dict[str, object]:
    """Pipelined publishes with Msg-Id, each awaited for its ack, `window` in flight."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await ensure_streams(js)
    payload = b"x" * size
    run = uuid.uuid4().hex[:8]
    semaphore = asyncio.Semaphore(window)

    async def one(i: int) -> None:
        async with semaphore:
            await publish_with_ack(
                js, "stripe.bench.ceiling", payload, msg_id=f"{run}-{i}", stream=STRIPE.name
            )

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(total)))
    seconds = time.perf_counter() - started
    await nc.close()
    return {
        "messages": total,
        "payload_bytes": size,
        "in_flight": window,
        "per_second": round(total / seconds, 1),
    }


async def postgres_commit_rate(
    server_url: str, *, total: int = 8_000, connections: int = 8
) -> dict[str, object]:
    """Single-row INSERT + COMMIT, from `connections` concurrent connections."""
    async with await psycopg.AsyncConnection.connect(server_url, autocommit=True) as admin:
        await admin.execute("DROP TABLE IF EXISTS bench_commits")
        await admin.execute("CREATE TABLE bench_commits (id bigserial primary key, body text)")
    per_connection = total // connections

    async def writer() -> None:
        async with await psycopg.AsyncConnection.connect(server_url, autocommit=True) as conn:
            for _ in range(per_connection):
                await conn.execute("INSERT INTO bench_commits (body) VALUES ('x')")

    started = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(connections)))
    seconds = time.perf_counter() - started
    return {
        "commits": per_connection * connections,
        "connections": connections,
        "per_second": round(per_connection * connections / seconds, 1),
    }
