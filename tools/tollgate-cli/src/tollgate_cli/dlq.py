"""`tollgate dlq …`: what consumers gave up on, and putting it back."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable

import nats
from nats.js import JetStreamContext
from rich.console import Console
from rich.progress import track
from rich.table import Table

from tollgate_shared.messaging import dlq

console = Console()


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register `dlq list|show|replay|drop`."""
    parser = commands.add_parser("dlq", help="inspect, replay or drop dead-lettered messages")
    parser.add_argument("--nats-url", default="nats://127.0.0.1:14222")
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="list dead letters, oldest first")
    listing.add_argument("--service")
    show = actions.add_parser("show", help="one dead letter with its payload")
    show.add_argument("sequence", type=int)
    for name, verb in (("replay", "replay into the consumer"), ("drop", "delete for good")):
        action = actions.add_parser(name, help=f"{verb}: given sequences, or all (of a service)")
        action.add_argument("sequences", type=int, nargs="*")
        action.add_argument("--service")
        action.add_argument("--all", action="store_true")


def run(args: argparse.Namespace) -> None:
    """Execute a `dlq` action."""
    handlers: dict[str, Callable[[JetStreamContext, argparse.Namespace], Awaitable[None]]] = {
        "list": _list,
        "show": _show,
        "replay": _apply,
        "drop": _apply,
    }
    asyncio.run(with_jetstream(args.nats_url, lambda js: handlers[args.action](js, args)))


async def with_jetstream(url: str, action: Callable[[JetStreamContext], Awaitable[None]]) -> None:
    """Run `action` with a JetStream context on `url`, closing the connection after."""
    nc = await nats.connect(url)
    try:
        await action(nc.jetstream())
    finally:
        await nc.close()


async def _list(js: JetStreamContext, args: argparse.Namespace) -> None:
    table = Table("seq", "service", "subject", "original id", "tries", "parked", "error")
    async for letter in dlq.iterate(js, service=args.service):
        parked = letter.parked_at.isoformat(timespec="seconds") if letter.parked_at else ""
        table.add_row(
            str(letter.sequence),
            letter.service,
            letter.original_subject,
            letter.original_id,
            str(letter.delivered),
            parked,
            letter.error[:80],
        )
    console.print(table)


async def _show(js: JetStreamContext, args: argparse.Namespace) -> None:
    letter = await dlq.get(js, args.sequence)
    console.print(
        f"[bold]{letter.original_subject}[/bold] {letter.original_id} "
        f"({letter.service}, {letter.delivered} tries)\n[red]{letter.error}[/red]"
    )
    try:
        console.print_json(json.dumps(json.loads(letter.data)))
    except ValueError:
        console.print(repr(letter.data))


async def _apply(js: JetStreamContext, args: argparse.Namespace) -> None:
    if args.sequences:
        letters = [await dlq.get(js, sequence) for sequence in args.sequences]
    elif args.all or args.service:
        letters = [letter async for letter in dlq.iterate(js, service=args.service)]
    else:
        raise SystemExit("name sequences, or --service S, or --all")
    for letter in track(letters, description=f"{args.action} {len(letters)} dead letters"):
        if args.action == "replay":
            await dlq.replay(js, letter)
        else:
            await dlq.drop(js, letter.sequence)
    console.print(f"{args.action}: {len(letters)} done")
