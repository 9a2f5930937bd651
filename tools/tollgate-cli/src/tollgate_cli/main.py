"""`tollgate run` starts the whole platform locally; `tollgate token` mints a dev token."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from tollgate_cli import consumers, dlq, stripe_sync, tokens
from tollgate_cli.stack import running_stack
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


def run(var_dir: Path, port_offset: int = 0) -> None:
    """Start everything, print where it listens, and stop it all on Ctrl-C or SIGTERM."""
    _interrupt_once()
    started = time.monotonic()
    try:
        with running_stack(var_dir, port_offset=port_offset) as stack:
            secret = stack.env["AUTH_JWT_SECRET"]
            admin = issue_token(secret, sub="admin", roles=["admin"], ttl=7 * 24 * 3600)
            print(f"\nTollgate is up in {time.monotonic() - started:.1f}s:", flush=True)
            for name, url in stack.endpoints.items():
                print(f"  {name:<16} {url}", flush=True)
            print(f"  {'nats':<16} {stack.infra.nats_url} ({stack.infra.nats_source})")
            print(f"  {'postgres':<16} {stack.infra.database_url} ({stack.infra.postgres_source})")
            print(f"\nLogs: {var_dir / 'logs'}\nAdmin token (7 days):\n  {admin}")
            print("\nCtrl-C stops everything.", flush=True)
            while True:
                time.sleep(0.5)
                for process in stack.processes:
                    if process.proc.poll() is not None:
                        raise RuntimeError(f"{process.name} exited ({process.proc.returncode})")
    except KeyboardInterrupt:
        pass
    print("Tollgate stopped.", flush=True)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `tollgate` command."""
    parser = argparse.ArgumentParser(prog="tollgate", description="Tollgate operations")
    commands = parser.add_subparsers(dest="command", required=True)
    run_cmd = commands.add_parser("run", help="run the whole platform locally")
    run_cmd.add_argument("--var-dir", type=Path, default=Path("var/dev"))
    run_cmd.add_argument(
        "--port-offset", type=int, default=0, help="shift every port (a second stack beside one)"
    )
    tokens.add_commands(commands)
    dlq.add_commands(commands)
    consumers.add_commands(commands)
    stripe_sync.add_commands(commands)
    args = parser.parse_args(argv)
    if args.command == "dlq":
        dlq.run(args)
    elif args.command in ("consumers", "rewind"):
        consumers.run(args)
    elif args.command in ("catch-up", "backfill", "resync"):
        stripe_sync.run(args)
    elif args.command == "run":
        run(args.var_dir.resolve(), args.port_offset)
    else:
        sys.exit(tokens.run(args))
    sys.exit(0)
