"""What every `tollgate` command shares: its settings (read from the environment as the
services read them, overridden by its flags), its common options, reaching NATS and Postgres
within seconds, and its progress bars."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, ClassVar, TypeVar

import nats
import nats.errors
import nats.js.errors
from nats.js import JetStreamContext
from pydantic import field_validator
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from tollgate_shared.infra.cli import (
    CommandError,
    OneLineParser,
    add_debug_option,
    describe,
    load_settings,
)
from tollgate_shared.infra.settings import ServiceSettings
from tollgate_shared.observability.logging import configure_logging

console = Console()

CONNECT_TIMEOUT = 2
"""Seconds one attempt to open a NATS connection may take."""
CONNECT_DEADLINE = 10.0
"""Seconds reaching NATS may take in all (each server is tried twice)."""
STREAM_NOT_FOUND = 10059
"""JetStream's error code for a stream that does not exist."""

T = TypeVar("T")


class CliSettings(ServiceSettings):
    """The services' settings — `NATS_URL`, `DATABASE_URL`, `STRIPE_*`, `AUTH_*`,
    `ENVIRONMENT` — read from the environment exactly as a service reads them."""

    required_secrets: ClassVar[tuple[str, ...]] = ()

    @field_validator("nats_url")
    @classmethod
    def _names_a_server(cls, value: str) -> str:
        if not any(server.strip() for server in value.split(",")):
            raise ValueError("names no NATS server")
        return value


SettingsT = TypeVar("SettingsT", bound=CliSettings)

FLAGS = {
    "nats_url": "nats_url",
    "stripe_api_base": "stripe_api_base",
    "webhook_secret": "stripe_webhook_secret",
}
"""A command's flags (as argparse names them) and the settings they override."""


def settings(args: argparse.Namespace, kind: type[SettingsT]) -> SettingsT:
    """The command's settings: the environment's, overridden by the flags it was given. Also
    sets up logging: library logs stay quiet (a command reports its error in one line),
    `--debug` shows them."""
    overrides = {
        setting: getattr(args, flag)
        for flag, setting in FLAGS.items()
        if getattr(args, flag, None) is not None
    }
    loaded = load_settings(lambda: kind(service_name="tollgate-cli", **overrides))
    debug = getattr(args, "debug", False)
    configure_logging("DEBUG" if debug else "ERROR", secrets=loaded.secret_values())
    if not debug:
        # nats-py logs each failed connection attempt with its traceback.
        logging.getLogger("nats").setLevel(logging.CRITICAL)
    return loaded


def options(*, nats_url: bool = False) -> OneLineParser:
    """A parent parser of a command's common options: `--debug`, and `--nats-url` for those
    that use NATS. Their defaults are left unset, so they may come before or after a
    subcommand."""
    parent = OneLineParser(add_help=False)
    add_debug_option(parent)
    if nats_url:
        parent.add_argument(
            "--nats-url",
            default=argparse.SUPPRESS,
            help="NATS server(s), comma-separated (default NATS_URL, else nats://127.0.0.1:14222)",
        )
    return parent


def public(url: str) -> str:
    """`url` without the credentials it may carry."""
    return re.sub(r"(?<=://)[^/@,]*@", "", url)


def fail_fast(errors: list[Exception]) -> dict[str, Any]:
    """nats-py's connection options for a command: each server is tried twice, each attempt
    for at most `CONNECT_TIMEOUT` s, and a lost connection is not reconnected (the next call
    fails). nats-py's `max_reconnect_attempts` of 0 or less would retry for ever, and
    `allow_reconnect=False` alone does not stop the retries of the first connect. Failed
    attempts are collected in `errors` instead of logged."""

    async def collect(error: Exception) -> None:
        errors.append(error)

    return {
        "allow_reconnect": False,
        "max_reconnect_attempts": 1,
        "reconnect_time_wait": 0.5,
        "connect_timeout": CONNECT_TIMEOUT,
        "error_cb": collect,
    }


async def reach_nats(url: str, connect: Callable[[dict[str, Any]], Awaitable[T]]) -> T:
    """`connect(options)` with `fail_fast` options, within `CONNECT_DEADLINE`; a server that
    does not answer is a `CommandError` naming it and why."""
    errors: list[Exception] = []
    try:
        async with asyncio.timeout(CONNECT_DEADLINE):
            return await connect(fail_fast(errors))
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        why = describe(errors[-1] if errors else exc)
        raise CommandError(f"cannot reach NATS at {public(url)}: {why}") from exc


@contextlib.asynccontextmanager
async def jetstream(url: str) -> AsyncIterator[JetStreamContext]:
    """A JetStream context on `url`, closed after; a missing stream is a `CommandError`."""
    servers = [server.strip() for server in url.split(",") if server.strip()]
    client = await reach_nats(url, lambda options: nats.connect(servers, **options))
    try:
        yield client.jetstream()
    except nats.js.errors.NotFoundError as exc:
        if exc.err_code != STREAM_NOT_FOUND:
            raise
        raise CommandError(
            f"NATS at {public(url)} has no Tollgate streams: a service declares them when it starts"
        ) from exc
    finally:
        await client.close()


def with_jetstream(url: str, action: Callable[[JetStreamContext], Awaitable[T]]) -> T:
    """Run `action` with a JetStream context on `url`, in an event loop of its own."""

    async def run() -> T:
        async with jetstream(url) as js:
            return await action(js)

    return asyncio.run(run())


def check_nats(url: str) -> None:
    """Raise a `CommandError` unless NATS at `url` answers within seconds."""

    async def connected(_: JetStreamContext) -> None:
        return None

    with_jetstream(url, connected)


def check_database(url: str, *, timeout: int) -> None:
    """Raise a `CommandError` unless the Postgres server at `url` answers within `timeout` s."""
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=timeout).close()
    except psycopg.Error as exc:
        raise CommandError(f"cannot reach the database at {public(url)}: {describe(exc)}") from exc


def progress() -> Progress:
    """A progress display: what, a bar, done of total, time taken."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
