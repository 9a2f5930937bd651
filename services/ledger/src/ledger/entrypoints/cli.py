"""Operator commands beyond `serve`/`migrate`: reconciliation, scheduled payouts and a round of
the fee task."""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import asdict
from datetime import UTC, datetime

from ledger.bootstrap import build
from ledger.config import load_settings
from ledger.entrypoints.deps import parse_instant
from ledger.service_layer.fees import book_fees
from ledger.service_layer.payouts import request_scheduled_payouts
from ledger.service_layer.reconcile import reconcile

COMMANDS = ("reconcile", "schedule-payouts", "book-fees")


async def _reconcile(start: datetime, end: datetime) -> int:
    service = build(load_settings())
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


async def _schedule() -> int:
    service = build(load_settings())
    assert service.runtime.engine is not None
    try:
        created = await request_scheduled_payouts(service.deps, datetime.now(UTC))
    finally:
        await service.runtime.engine.dispose()
    for request in created:
        print(json.dumps(request, default=str))
    return 0


async def _book_fees() -> int:
    service = build(load_settings())
    assert service.runtime.engine is not None
    try:
        known = await book_fees(service.deps)
    finally:
        await service.runtime.engine.dispose()
    print(f"{known} fee(s) booked")
    return 0


def run(argv: list[str]) -> int:
    """`ledger reconcile --from D --to D` (exit 1 on differences), `ledger schedule-payouts` or
    `ledger book-fees`."""
    parser = argparse.ArgumentParser(prog="ledger")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("reconcile", help="compare the ledger with Stripe for a period")
    check.add_argument("--from", dest="start", required=True, help="ISO date or datetime")
    check.add_argument("--to", dest="end", required=True, help="ISO date or datetime (exclusive)")
    commands.add_parser("schedule-payouts", help="request the payouts that schedules make due")
    commands.add_parser("book-fees", help="book the Stripe fees of payments not known yet")
    args = parser.parse_args(argv)
    if args.command == "reconcile":
        start, end = parse_instant(args.start, "from"), parse_instant(args.end, "to")
        assert start is not None and end is not None
        return asyncio.run(_reconcile(start, end))
    if args.command == "book-fees":
        return asyncio.run(_book_fees())
    return asyncio.run(_schedule())
