"""Service processes for the benchmarks, started as production starts them."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tollgate_cli.stack import script
from tollgate_shared.infra.process import ServerProcess, free_port
from tollgate_shared.infra.provide import Infrastructure
from tollgate_shared.web.auth import issue_token

JWT_SECRET = "bench-jwt-secret-0123456789-0123456789"


class Service:
    """A running service: its process, base URL and peak memory."""

    def __init__(self, name: str, process: ServerProcess, url: str) -> None:
        self.name = name
        self.process = process
        self.url = url

    def peak_rss_mib(self) -> float:
        """Peak resident memory so far (VmHWM), in MiB."""
        for line in Path(f"/proc/{self.process.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
        return 0.0


def service_env(infra: Infrastructure, **extra: str) -> dict[str, str]:
    """The environment every benchmarked service gets."""
    return dict(
        os.environ,
        NATS_URL=infra.nats_url,
        DATABASE_URL=infra.database_url,
        AUTH_JWT_SECRET=JWT_SECRET,
        LOG_LEVEL="WARNING",
        **extra,
    )


@contextmanager
def running(
    name: str, infra: Infrastructure, var_dir: Path, *, replica: int = 1, **extra_env: str
) -> Iterator[Service]:
    """Migrate and serve `name` on a free port until the block ends; a `replica` above 1 is
    a further process of the service (same durables, same database), named `name.<replica>`."""
    program = script(name)
    assert program, f"{name} is not installed"
    port = free_port()
    argv = [program, "serve", "--port", str(port)]
    if name != "webhook-gateway":
        argv.append("--migrate")
    if replica > 1:
        name = f"{name}.{replica}"
    process = ServerProcess(
        name, argv, log_path=var_dir / f"bench-{name}.log", env=service_env(infra, **extra_env)
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not become ready:\n{process.log_tail()}")
        time.sleep(0.1)
    try:
        yield Service(name, process, url)
    finally:
        process.stop()


def service_token() -> str:
    """A token with the `service` role, as an app calling the gate would hold."""
    return issue_token(JWT_SECRET, sub="bench-app", roles=["service", "admin"], ttl=3600)
