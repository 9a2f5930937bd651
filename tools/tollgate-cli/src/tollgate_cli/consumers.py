"""`tollgate consumers` (lag per durable consumer) and `tollgate rewind` (replay a stream into
one service's consumer, e.g. to rebuild its database)."""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime

from nats.js import JetStreamContext
from nats.js.api import ConsumerInfo
from nats.js.errors import NotFoundError
from rich.table import Table

from tollgate_cli.common import (
    STREAM_NOT_FOUND,
    CliSettings,
    console,
    options,
    progress,
    settings,
    with_jetstream,
)
from tollgate_shared.infra.cli import CommandError
from tollgate_shared.messaging.replay import consumer_lag, rewind_consumer
from tollgate_shared.messaging.streams import ALL_STREAMS

SAMPLES = 4
SAMPLE_INTERVAL = 0.4
"""How often, and how far apart, rewind looks at a consumer to tell whether it is running."""
POLL_INTERVAL = 0.5
"""How often the drain of a rewound consumer is read."""


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register `consumers` and `rewind`."""
    common = options(nats_url=True)
    lag = commands.add_parser(
        "consumers", parents=[common], help="pending and unacknowledged messages per consumer"
    )
    lag.set_defaults(run=run)
    rewind = commands.add_parser(
        "rewind", parents=[common], help="replay a stream into one durable consumer"
    )
    rewind.add_argument("durable", help="the consumer, i.e. the service name")
    rewind.add_argument("--stream", default="STRIPE", choices=[s.name for s in ALL_STREAMS])
    start = rewind.add_mutually_exclusive_group()
    start.add_argument("--since", type=datetime.fromisoformat, help="ISO time, e.g. 2026-11-01")
    start.add_argument("--sequence", type=int, help="stream sequence to start from")
    rewind.add_argument(
        "--force",
        action="store_true",
        help="rewind even while the consumer is running (what it holds is delivered again)",
    )
    rewind.add_argument(
        "--no-wait", action="store_true", help="return at once instead of showing the drain"
    )
    rewind.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    """Execute `consumers` or `rewind`."""
    url = settings(args, CliSettings).nats_url
    if args.command == "consumers":
        with_jetstream(url, _lag)
        return
    try:
        with_jetstream(url, lambda js: _rewind(js, args))
    except KeyboardInterrupt:
        raise CommandError(
            "stopped watching; the rewind stays (`tollgate consumers` shows what is left)",
            status=130,
        ) from None


async def _lag(js: JetStreamContext) -> None:
    table = Table("stream", "consumer", "pending", "unacked", "redelivered", "last delivered")
    for spec in ALL_STREAMS:
        for info in await consumer_lag(js, spec.name):
            table.add_row(
                spec.name,
                info.name,
                str(info.num_pending),
                str(info.num_ack_pending),
                str(info.num_redelivered),
                str(info.delivered.stream_seq if info.delivered else ""),
            )
    console.print(table)


async def _rewind(js: JetStreamContext, args: argparse.Namespace) -> None:
    await _info(js, args.stream, args.durable)  # an unknown consumer is refused, forced or not
    if not args.force and (why := await running(js, args.stream, args.durable)):
        raise CommandError(
            f"{args.durable} is consuming {args.stream} ({why}): stop its service first, "
            "or pass --force"
        )
    info = await rewind_consumer(
        js, args.stream, args.durable, since=args.since, sequence=args.sequence
    )
    start = args.since or (f"sequence {args.sequence}" if args.sequence else "the start")
    console.print(
        f"{args.durable} on {args.stream} rewound to {start}: {info.num_pending} messages to replay"
    )
    if not args.no_wait:
        await _drain(js, args.stream, args.durable, info.num_pending or 0)


async def _info(js: JetStreamContext, stream: str, durable: str) -> ConsumerInfo:
    try:
        info: ConsumerInfo = await js.consumer_info(stream, durable)
    except NotFoundError as exc:
        if exc.err_code == STREAM_NOT_FOUND:
            raise
        raise CommandError(
            f"no consumer {durable!r} on stream {stream} (see `tollgate consumers`)"
        ) from exc
    return info


async def running(js: JetStreamContext, stream: str, durable: str) -> str | None:
    """Why `durable` looks consumed right now, or None. A service's pull loop keeps a pull
    request waiting on the server while it is idle (`num_waiting`), and has messages
    delivered and acked while it is busy; a push subscription is bound (`push_bound`). The
    consumer is read a few times over about a second, as for a moment between two requests
    none waits."""
    seen = None
    for sample in range(SAMPLES):
        if sample:
            await asyncio.sleep(SAMPLE_INTERVAL)
        info = await _info(js, stream, durable)
        if info.push_bound:
            return "a push subscriber is bound"
        if info.num_waiting:
            return f"{info.num_waiting} pull request(s) waiting"
        moved = (
            info.delivered.consumer_seq if info.delivered else 0,
            info.ack_floor.consumer_seq if info.ack_floor else 0,
        )
        if seen is not None and moved != seen:
            return "messages are being delivered and acknowledged"
        seen = moved
    return None


async def _drain(js: JetStreamContext, stream: str, durable: str, total: int) -> None:
    """Show the replay draining (pending and unacknowledged down to 0) until it has."""
    console.print(
        f"Watching the replay (it starts when {durable}'s consumer runs; Ctrl-C stops watching)"
    )
    with progress() as bar:
        task = bar.add_task(f"{durable} replaying {stream}", total=total)
        while True:
            info = await _info(js, stream, durable)
            left = (info.num_pending or 0) + (info.num_ack_pending or 0)
            # Messages stored during the replay are part of it.
            total = max(total, int(bar.tasks[task].completed) + left)
            bar.update(task, total=total, completed=total - left)
            if not left:
                break
            await asyncio.sleep(POLL_INTERVAL)
    console.print(f"{durable} on {stream}: replay drained ({total} messages)")
