"""`tollgate dlq …`: what consumers gave up on, and putting it back."""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from rich.progress import track
from rich.table import Table

from tollgate_cli.common import (
    STREAM_NOT_FOUND,
    CliSettings,
    console,
    options,
    settings,
    with_jetstream,
)
from tollgate_shared.infra.cli import CommandError
from tollgate_shared.messaging import dlq


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register `dlq list|show|replay|drop`."""
    common = options(nats_url=True)
    parser = commands.add_parser(
        "dlq", parents=[common], help="inspect, replay or drop dead-lettered messages"
    )
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", parents=[common], help="list dead letters, oldest first")
    listing.add_argument("--service")
    show = actions.add_parser("show", parents=[common], help="one dead letter with its payload")
    show.add_argument("sequence", type=int)
    for name, verb in (("replay", "replay into the consumer"), ("drop", "delete for good")):
        action = actions.add_parser(
            name, parents=[common], help=f"{verb}: given sequences, or all (of a service)"
        )
        action.add_argument("sequences", type=int, nargs="*")
        action.add_argument("--service")
        action.add_argument("--all", action="store_true")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    """Execute a `dlq` action."""
    handlers: dict[str, Callable[[JetStreamContext, argparse.Namespace], Awaitable[None]]] = {
        "list": _list,
        "show": _show,
        "replay": _apply,
        "drop": _apply,
    }
    url = settings(args, CliSettings).nats_url
    with_jetstream(url, lambda js: handlers[args.action](js, args))


async def _letter(js: JetStreamContext, sequence: int) -> dlq.DeadLetter:
    try:
        return await dlq.get(js, sequence)
    except NotFoundError as exc:
        if exc.err_code == STREAM_NOT_FOUND:
            raise
        raise CommandError(
            f"no dead letter at sequence {sequence} (see `tollgate dlq list`)"
        ) from exc


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
    letter = await _letter(js, args.sequence)
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
        letters = [await _letter(js, sequence) for sequence in args.sequences]
    elif args.all or args.service:
        letters = [letter async for letter in dlq.iterate(js, service=args.service)]
    else:
        raise CommandError("name sequences, or --service S, or --all", status=2)
    for letter in track(letters, description=f"{args.action} {len(letters)} dead letters"):
        if args.action == "replay":
            await dlq.replay(js, letter)
        else:
            await dlq.drop(js, letter.sequence)
    console.print(f"{args.action}: {len(letters)} done")
