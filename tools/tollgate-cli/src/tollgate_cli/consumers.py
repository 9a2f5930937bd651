"""`tollgate consumers` (lag per durable consumer) and `tollgate rewind` (replay a stream into
one service's consumer, e.g. to rebuild its database)."""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime

from nats.js import JetStreamContext
from rich.console import Console
from rich.table import Table

from tollgate_cli.dlq import with_jetstream
from tollgate_shared.messaging.replay import consumer_lag, rewind_consumer
from tollgate_shared.messaging.streams import ALL_STREAMS

console = Console()


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register `consumers` and `rewind`."""
    lag = commands.add_parser("consumers", help="pending and unacknowledged messages per consumer")
    lag.add_argument("--nats-url", default="nats://127.0.0.1:14222")
    rewind = commands.add_parser(
        "rewind", help="replay a stream into one durable consumer (stop its service first)"
    )
    rewind.add_argument("durable", help="the consumer, i.e. the service name")
    rewind.add_argument("--stream", default="STRIPE", choices=[s.name for s in ALL_STREAMS])
    start = rewind.add_mutually_exclusive_group()
    start.add_argument("--since", type=datetime.fromisoformat, help="ISO time, e.g. 2026-11-01")
    start.add_argument("--sequence", type=int, help="stream sequence to start from")
    rewind.add_argument("--nats-url", default="nats://127.0.0.1:14222")


def run(args: argparse.Namespace) -> None:
    """Execute `consumers` or `rewind`."""
    action = _lag if args.command == "consumers" else _rewind
    asyncio.run(with_jetstream(args.nats_url, lambda js: action(js, args)))


async def _lag(js: JetStreamContext, args: argparse.Namespace) -> None:
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
    info = await rewind_consumer(
        js, args.stream, args.durable, since=args.since, sequence=args.sequence
    )
    start = args.since or (f"sequence {args.sequence}" if args.sequence else "the start")
    console.print(
        f"{args.durable} on {args.stream} rewound to {start}: {info.num_pending} messages to replay"
    )
