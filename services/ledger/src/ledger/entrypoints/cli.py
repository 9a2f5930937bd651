"""Operator commands beyond `serve`/`migrate`: reconciliation, a round of the payout schedule
task and a round of the fee task."""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import asdict
from datetime import UTC, datetime

from ledger.bootstrap import build
from ledger.config import Settings
from ledger.config import load_settings as load_ledger_settings
from ledger.entrypoints.deps import parse_instant
from ledger.service_layer.fees import book_fees
from ledger.service_layer.reconcile import reconcile
from ledger.service_layer.schedules import resume_unpaid, run_due
from tollgate_shared.infra.cli import (
    CommandError,
    OneLineParser,
    add_debug_option,
    load_settings,
    run_command,
)
from tollgate_shared.web.errors import ApiError

COMMANDS = ("reconcile", "schedule-payouts", "book-fees")


async def _reconcile(settings: Settings, start: datetime, end: datetime) -> int:
    service = build(settings)
    runtime = service.runtime
    assert runtime.sessions is not None and runtime.engine is not None
    try:
        differences = await reconcile(service.deps, runtime.sessions, start, end)
    finally:
        await runtime.engine.dispose()
    for difference in differences:
        print(json.dumps(asdict(difference)))
    print(f"{len(differences)} difference(s) between {start.isoformat()} and {end.isoformat()}")
    return 1 if differences else 0


async def _schedule(settings: Settings) -> int:
    service = build(settings)
    assert service.runtime.engine is not None
    try:
        now = datetime.now(UTC)
        created = await run_due(service.deps, now) + await resume_unpaid(service.deps, now)
    finally:
        await service.runtime.engine.dispose()
    for request in created:
        print(json.dumps(request, default=str))
    return 0


async def _book_fees(settings: Settings) -> int:
    service = build(settings)
    assert service.runtime.engine is not None
    try:
        known = await book_fees(service.deps)
    finally:
        await service.runtime.engine.dispose()
    print(f"{known} fee(s) booked")
    return 0


def run(argv: list[str]) -> int:
    """`ledger reconcile --from D --to D` (exit 1 on differences), `ledger schedule-payouts` or
    `ledger book-fees`; each takes `--debug`. An error is one line on stderr, exit status 2."""
    parser = OneLineParser(prog="ledger")
    add_debug_option(parser)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("reconcile", help="compare the ledger with Stripe for a period")
    check.add_argument("--from", dest="start", required=True, help="ISO date or datetime")
    check.add_argument("--to", dest="end", required=True, help="ISO date or datetime (exclusive)")
    schedule = commands.add_parser(
        "schedule-payouts", help="one round of the payout schedule task (every serve runs it)"
    )
    fees = commands.add_parser("book-fees", help="book the Stripe fees of payments not known yet")
    for command in (check, schedule, fees):
        add_debug_option(command)
    args = parser.parse_args(argv)
    return run_command(
        "ledger", lambda: _run(args), debug=getattr(args, "debug", False), error_status=2
    )


def _run(args: argparse.Namespace) -> int:
    settings = load_settings(load_ledger_settings)
    if args.command == "reconcile":
        try:
            start, end = parse_instant(args.start, "from"), parse_instant(args.end, "to")
        except ApiError as exc:
            raise CommandError(exc.message, status=2) from None
        assert start is not None and end is not None
        return asyncio.run(_reconcile(settings, start, end))
    if args.command == "book-fees":
        return asyncio.run(_book_fees(settings))
    return asyncio.run(_schedule(settings))
