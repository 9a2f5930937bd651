"""`tollgate catch-up`, `backfill` and `resync`: what Stripe knows, fed into the consumers.

- catch-up: events Stripe could not deliver (Events API, `delivery_success=false`), oldest first,
  stored as the webhook gateway stores them;
- backfill: existing customers, subscriptions, Checkout Sessions, invoices and charges as
  synthetic events, for a platform whose members were paying before Tollgate;
- resync: one object as it is now.
All three end in the same idempotent consumers; running any of them twice stores nothing twice.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import re
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import stripe

from tollgate_cli import common
from tollgate_cli.common import CliSettings, console, progress
from tollgate_cli.feed import Feed, open_feed
from tollgate_cli.synthetic import StripeJson, backfill_events, resync_events
from tollgate_shared.infra.cli import CommandError, describe
from tollgate_shared.infra.settings import DEV_STRIPE_KEY, ServiceSettings
from tollgate_shared.infra.stripe_client import STRIPE_API, make_stripe_client

RESOURCES = {
    "cus_": "customers",
    "sub_": "subscriptions",
    "cs_": "checkout.sessions",
    "in_": "invoices",
    "ch_": "charges",
}
"""What backfill imports (in this order) and resync accepts, by id prefix."""
LIST_PARAMS: dict[str, dict[str, Any]] = {"subscriptions": {"status": "all"}}
PAGE_SIZE = 100
UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


STRIPE_KEY = re.compile(r"(sk|rk)_(live|test)_[0-9A-Za-z]{16,}")
"""The shape of the secret and restricted keys of Stripe's dashboard."""


def refuse_development_key(settings: ServiceSettings) -> None:
    """Refuse, before any call, to send the development key (or any key not shaped like one
    of Stripe's) to api.stripe.com: it means the command was meant for the emulator and
    `STRIPE_API_BASE` is missing, and Stripe would refuse the key anyway."""
    calls_stripe = (settings.stripe_api_base or STRIPE_API).rstrip("/") == STRIPE_API
    key = settings.stripe_secret_key
    if calls_stripe and (key == DEV_STRIPE_KEY or not STRIPE_KEY.fullmatch(key)):
        what = "the development key" if key == DEV_STRIPE_KEY else "not a key of Stripe's"
        raise CommandError(
            f"STRIPE_SECRET_KEY is {what} and would be sent to {STRIPE_API} (no other "
            "STRIPE_API_BASE or --stripe-api-base is given): set a key from the Stripe "
            "dashboard (sk_live_…, sk_test_…, rk_…), or --stripe-api-base to the emulator",
            status=2,
        )


def since(value: str) -> datetime:
    """`30d`, `12h`, `45m`, `90s` ago, or an ISO time (UTC unless it names a zone)."""
    if match := re.fullmatch(r"(\d+)([dhms])", value):
        return datetime.now(UTC) - timedelta(**{UNITS[match[2]]: int(match[1])})
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def object_id(value: str) -> str:
    """An id of an object resync accepts, by its prefix."""
    if value.split("_")[0] + "_" not in RESOURCES:
        raise argparse.ArgumentTypeError(f"resync takes {', '.join(p + '…' for p in RESOURCES)}")
    return value


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register `catch-up`, `backfill` and `resync`."""
    common_options = common.options()
    catch_up = commands.add_parser(
        "catch-up",
        parents=[common_options],
        help="feed Stripe events whose webhook delivery did not succeed",
    )
    catch_up.add_argument("--since", type=since, default="30d", help="e.g. 30d, 6h, 2026-11-01")
    backfill = commands.add_parser(
        "backfill",
        parents=[common_options],
        help="import existing customers, subscriptions, checkouts, invoices, charges",
    )
    backfill.add_argument("--since", type=since, help="only objects created since (default all)")
    resync = commands.add_parser(
        "resync", parents=[common_options], help="re-apply one Stripe object's current state"
    )
    resync.add_argument("object_id", type=object_id, help="cus_…, sub_…, cs_…, in_… or ch_…")
    for command in (catch_up, backfill, resync):
        command.add_argument("--stripe-api-base", help="default STRIPE_API_BASE, else Stripe")
        target = command.add_mutually_exclusive_group()
        target.add_argument("--nats-url", help="publish on JetStream (default NATS_URL)")
        target.add_argument(
            "--gateway-url", help="deliver to the webhook gateway instead, e.g. http://host:8001"
        )
        command.add_argument(
            "--webhook-secret", help="signs gateway deliveries (default STRIPE_WEBHOOK_SECRET)"
        )
        command.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    """Execute `catch-up`, `backfill` or `resync`."""
    settings = common.settings(args, CliSettings)
    refuse_development_key(settings)
    client = make_stripe_client(settings)
    action = {"catch-up": _catch_up, "backfill": _backfill, "resync": _resync}[args.command]
    try:
        asyncio.run(action(args, settings, client))
    except stripe.APIConnectionError as exc:
        where = settings.stripe_api_base or STRIPE_API
        why = describe(exc.__cause__ or exc)  # the network's error, not the SDK's advice
        raise CommandError(f"cannot reach Stripe at {where}: {why}") from exc
    except stripe.StripeError as exc:
        raise CommandError(f"Stripe answered {exc.http_status}: {exc.user_message}") from exc


@dataclass
class Tally:
    """What a run stored, and what was there already."""

    events: int = 0
    stored: int = 0

    def __str__(self) -> str:
        return f"{self.events} events, {self.stored} stored, {self.events - self.stored} already"


def _feed_for(
    args: argparse.Namespace, settings: ServiceSettings
) -> AbstractAsyncContextManager[Feed]:
    return open_feed(
        nats_url=settings.nats_url,
        gateway_url=args.gateway_url,
        webhook_secret=args.webhook_secret or settings.stripe_webhook_secret,
    )


async def _catch_up(
    args: argparse.Namespace, settings: ServiceSettings, client: stripe.StripeClient
) -> None:
    params = {"delivery_success": False, "created": {"gte": int(args.since.timestamp())}}
    with console.status("listing undelivered events"):
        events = [e async for e in _listed(client, "events", params)]
    events.reverse()  # Stripe lists newest first; feed in the order Stripe created them
    tally = Tally()
    async with _feed_for(args, settings) as feed:
        with progress() as bar:
            task = bar.add_task("catch-up", total=len(events))
            for event in events:
                await _feed_all(feed, [event], tally)
                bar.advance(task)
    console.print(f"catch-up since {args.since.isoformat(timespec='seconds')}: {tally}")


async def _backfill(
    args: argparse.Namespace, settings: ServiceSettings, client: stripe.StripeClient
) -> None:
    created = {"created": {"gte": int(args.since.timestamp())}} if args.since else {}
    async with _feed_for(args, settings) as feed:
        with progress() as bar:
            tallies = {}
            for resource in RESOURCES.values():
                tallies[resource] = tally = Tally()
                task = bar.add_task(resource, total=None)
                params = {**LIST_PARAMS.get(resource, {}), **created}
                async for obj in _listed(client, resource, params):
                    await _feed_all(feed, backfill_events(obj), tally)
                    bar.advance(task)
                bar.update(task, total=bar.tasks[task].completed)
    for resource, tally in tallies.items():
        console.print(f"backfill {resource}: {tally}")


async def _resync(
    args: argparse.Namespace, settings: ServiceSettings, client: stripe.StripeClient
) -> None:
    resource = RESOURCES[args.object_id.split("_")[0] + "_"]
    obj = (await _service(client, resource).retrieve_async(args.object_id)).to_dict(for_json=True)
    async with _feed_for(args, settings) as feed:
        for event in resync_events(obj):
            stored = await feed(event)
            console.print(f"resync {obj['id']}: {event['type']} {event['id']} stored={stored}")


def _service(client: stripe.StripeClient, resource: str) -> Any:
    """`client.v1.<resource>`, e.g. `checkout.sessions`."""
    return functools.reduce(getattr, resource.split("."), client.v1)


async def _listed(
    client: stripe.StripeClient, resource: str, params: dict[str, Any]
) -> AsyncIterator[StripeJson]:
    """Every object of a list endpoint, page by page, as plain JSON."""
    page = await _service(client, resource).list_async({**params, "limit": PAGE_SIZE})
    async for obj in page.auto_paging_iter():
        yield obj.to_dict(for_json=True)


async def _feed_all(feed: Feed, events: list[StripeJson], tally: Tally) -> None:
    for event in events:
        tally.events += 1
        tally.stored += await feed(event)
