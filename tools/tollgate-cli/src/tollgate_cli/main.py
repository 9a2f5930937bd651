"""`tollgate run` starts the whole platform locally; the other commands are operator tools.
Every command reads the services' settings from the environment, takes its options after its
name, and reports an error in one line on stderr with a non-zero exit status (`--debug`: the
traceback)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from tollgate_cli import common, consumers, dlq, stripe_sync, tokens
from tollgate_cli.common import CliSettings, check_database, check_nats
from tollgate_cli.stack import exited, running_stack, var_dir_for
from tollgate_shared.infra.cli import OneLineParser, add_debug_option, run_command
from tollgate_shared.web.auth import issue_token


def _interrupt_once() -> None:
    """Ctrl-C or SIGTERM interrupts us once (KeyboardInterrupt); later ones are ignored, so
    that the stop in order (services, then the dev tools, then NATS and Postgres) runs to the
    end. `make run` (through `uv run`) gets a second SIGINT just after the terminal's: had it
    interrupted the stop, we would exit, and every child would get its stop signal at once
    (they die with us), NATS before the services that still use it."""

    def interrupt(*_: object) -> None:
        for name in (signal.SIGINT, signal.SIGTERM):
            signal.signal(name, signal.SIG_IGN)
        raise KeyboardInterrupt

    for name in (signal.SIGINT, signal.SIGTERM):
        signal.signal(name, interrupt)


def run(args: argparse.Namespace) -> None:
    """Start everything, print where it listens, and stop it all on Ctrl-C or SIGTERM."""
    settings = common.settings(args, CliSettings)
    var_dir = (args.var_dir or var_dir_for(args.port_offset)).resolve()
    # Servers the environment names must answer now, not once everything else has started.
    if os.environ.get("NATS_URL"):
        check_nats(settings.nats_url)
    if os.environ.get("DATABASE_URL") and settings.database_url:
        check_database(settings.database_url, timeout=settings.database_connect_timeout_seconds)
    _interrupt_once()
    started = time.monotonic()
    try:
        with running_stack(var_dir, port_offset=args.port_offset) as stack:
            secret = stack.env["AUTH_JWT_SECRET"]
            admin = issue_token(secret, sub="admin", roles=["admin"], ttl=7 * 24 * 3600)
            print(f"\nTollgate is up in {time.monotonic() - started:.1f}s:", flush=True)
            for name, url in stack.endpoints.items():
                print(f"  {name:<16} {url}", flush=True)
            print(f"  {'nats':<16} {stack.infra.nats_url} ({stack.infra.nats_source})")
            print(f"  {'postgres':<16} {stack.infra.database_url} ({stack.infra.postgres_source})")
            print(f"\nData and logs: {var_dir}\nAdmin token (7 days):\n  {admin}")
            print("\nCtrl-C stops everything.", flush=True)
            while True:
                time.sleep(0.5)
                for process in stack.processes:
                    if process.proc.poll() is not None:
                        raise exited(process)
    except KeyboardInterrupt:
        pass
    print("Tollgate stopped.", flush=True)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `tollgate` command."""
    parser = OneLineParser(prog="tollgate", description="Tollgate operations")
    add_debug_option(parser)
    commands = parser.add_subparsers(dest="command", required=True)
    run_cmd = commands.add_parser(
        "run", parents=[common.options()], help="run the whole platform locally"
    )
    run_cmd.add_argument(
        "--var-dir",
        type=Path,
        help="data and logs (default var/dev, or var/dev-<offset> with --port-offset)",
    )
    run_cmd.add_argument(
        "--port-offset", type=int, default=0, help="shift every port (a second stack beside one)"
    )
    run_cmd.set_defaults(run=run)
    tokens.add_commands(commands)
    dlq.add_commands(commands)
    consumers.add_commands(commands)
    stripe_sync.add_commands(commands)
    args = parser.parse_args(argv)
    sys.exit(run_command("tollgate", lambda: args.run(args), debug=getattr(args, "debug", False)))
