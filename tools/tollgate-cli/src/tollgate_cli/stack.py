"""The local platform: infrastructure, the Stripe emulator, the mail sink and every service,
each a child process that stops with us."""

from __future__ import annotations

import os
import shutil
import sysconfig
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tollgate_shared.infra.cli import CommandError
from tollgate_shared.infra.process import ServerProcess
from tollgate_shared.infra.provide import Infrastructure, provide
from tollgate_shared.infra.settings import DEV_JWT_SECRET, DEV_STRIPE_KEY, DEV_WEBHOOK_SECRET

NATS_PORT = 14222
POSTGRES_PORT = 15432
EMULATOR_PORT = 12111
MAIL_SMTP_PORT = 1025
MAIL_HTTP_PORT = 8025
LOCALHOST = "http://127.0.0.1"


@dataclass(frozen=True)
class Service:
    """A service of the platform and where it listens by default."""

    name: str
    port: int
    migrates: bool = True


SERVICES = (
    Service("webhook-gateway", 8001, migrates=False),
    Service("checkout", 8002),
    Service("membership", 8003),
    Service("ledger", 8004),
    Service("notifications", 8005),
)


def script(name: str) -> str | None:
    """The installed console script `name`, if its package is installed."""
    path = Path(sysconfig.get_path("scripts")) / name
    return str(path) if path.exists() else shutil.which(name)


@dataclass
class Stack:
    """What `tollgate run` started, and the environment it gave the services."""

    infra: Infrastructure
    env: dict[str, str]
    port_offset: int = 0
    endpoints: dict[str, str] = field(default_factory=dict)
    processes: list[ServerProcess] = field(default_factory=list)

    def port(self, default: int) -> int:
        """A default port of DESIGN.md, shifted by the run's offset."""
        return default + self.port_offset

    def stop(self) -> None:
        """Stop services first, then the emulator and sink, then NATS and Postgres."""
        for process in reversed(self.processes):
            process.stop()
        self.infra.stop()


def var_dir_for(port_offset: int) -> Path:
    """Where a stack keeps its data and logs by default: `var/dev`, or `var/dev-<offset>` for
    a stack on shifted ports. Starting a stack stops the servers a previous run left in its
    directory, so a second stack beside a running one must never share it."""
    return Path("var/dev" if port_offset == 0 else f"var/dev-{port_offset}")


def exited(process: ServerProcess) -> CommandError:
    """The error of a process of the stack that exited: its status, and the last line of its
    log (a service's own error line), which is kept whole in the log file."""
    tail = process.log_tail(1) or "(its log is empty)"
    return CommandError(
        f"{process.name} exited with {process.proc.returncode} ({process.log_path}): {tail}"
    )


def _wait_healthy(name: str, url: str, process: ServerProcess, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.proc.poll() is not None:
            raise exited(process)
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise CommandError(f"{name} did not answer {url} within {timeout:.0f}s ({process.log_path})")


def base_environment(infra: Infrastructure, port_offset: int = 0) -> dict[str, str]:
    """DESIGN.md's variables: the caller's values where set, else the development defaults."""
    env = dict(os.environ)
    env["NATS_URL"] = infra.nats_url
    env["DATABASE_URL"] = infra.database_url
    env.setdefault("STRIPE_SECRET_KEY", DEV_STRIPE_KEY)
    env.setdefault("STRIPE_WEBHOOK_SECRET", DEV_WEBHOOK_SECRET)
    env.setdefault("AUTH_JWT_SECRET", DEV_JWT_SECRET)
    env.setdefault("SMTP_URL", f"smtp://127.0.0.1:{MAIL_SMTP_PORT + port_offset}")
    env.setdefault("PUBLIC_BASE_URL", f"{LOCALHOST}:{8002 + port_offset}")
    if env["STRIPE_SECRET_KEY"] == DEV_STRIPE_KEY:
        env.setdefault("STRIPE_API_BASE", f"{LOCALHOST}:{EMULATOR_PORT + port_offset}")
    return env


@contextmanager
def running_stack(var_dir: Path, *, port_offset: int = 0) -> Iterator[Stack]:
    """Start everything (idempotently: stale servers of an earlier run are stopped first)."""
    infra = provide(
        var_dir,
        nats_port=NATS_PORT + port_offset,
        postgres_port=POSTGRES_PORT + port_offset,
        use_docker=False,
    )
    stack = Stack(infra=infra, env=base_environment(infra, port_offset), port_offset=port_offset)
    try:
        # Everything starts at once; then each is awaited in turn (services migrate in parallel).
        starting = _start_dev_tools(stack, var_dir)
        starting += [s for s in (_start_service(stack, svc, var_dir) for svc in SERVICES) if s]
        for name, url, health, process in starting:
            _wait_healthy(name, f"{url}{health}", process)
            stack.endpoints[name] = url
        yield stack
    finally:
        stack.stop()


def _start(stack: Stack, name: str, argv: list[str], var_dir: Path) -> ServerProcess:
    process = ServerProcess(name, argv, log_path=var_dir / "logs" / f"{name}.log", env=stack.env)
    stack.processes.append(process)
    return process


Starting = tuple[str, str, str, ServerProcess]
"""A process on its way up: name, base URL, health path, process."""


def _start_dev_tools(stack: Stack, var_dir: Path) -> list[Starting]:
    starting: list[Starting] = []
    emulator = script("stripe-emulator")
    emulator_url = f"{LOCALHOST}:{stack.port(EMULATOR_PORT)}"
    if emulator and stack.env.get("STRIPE_API_BASE") == emulator_url:
        secret = stack.env["STRIPE_WEBHOOK_SECRET"].split(",")[0]
        webhook = f"{LOCALHOST}:{stack.port(SERVICES[0].port)}/webhooks/stripe={secret}"
        port = str(stack.port(EMULATOR_PORT))
        argv = [emulator, "--port", port, "--test-mode", "--webhook", webhook]
        process = _start(stack, "stripe-emulator", argv, var_dir)
        starting.append(("stripe-emulator", emulator_url, "/healthz", process))
    sink = script("mail-sink")
    smtp_port, http_port = stack.port(MAIL_SMTP_PORT), stack.port(MAIL_HTTP_PORT)
    if sink and stack.env["SMTP_URL"] == f"smtp://127.0.0.1:{smtp_port}":
        argv = [sink, "--smtp-port", str(smtp_port), "--http-port", str(http_port)]
        process = _start(stack, "mail-sink", argv, var_dir)
        starting.append(("mail-sink", f"{LOCALHOST}:{http_port}", "/healthz", process))
    return starting


def _start_service(stack: Stack, service: Service, var_dir: Path) -> Starting | None:
    program = script(service.name)
    if program is None:
        return None
    argv = [program, "serve", "--port", str(stack.port(service.port))]
    if service.migrates:
        argv.append("--migrate")
    process = _start(stack, service.name, argv, var_dir)
    return (service.name, f"{LOCALHOST}:{stack.port(service.port)}", "/healthz", process)
