"""`tollgate run` stopped with Ctrl-C the way `make run` is: the terminal sends SIGINT to its
whole foreground process group, and `uv run` passes it on to `tollgate` once more. The services
stop first, while NATS and Postgres still answer (none fails its shutdown), then the dev tools,
then NATS and Postgres; nothing is left running. It runs a stack of its own, not the journeys'."""

import asyncio
import os
import re
import secrets
import signal
from pathlib import Path

from tests.e2e.conftest import banner, free_port_offset, launch, run_environment
from tollgate_cli.stack import SERVICES
from tollgate_shared.testing import wait_until

FAILED = re.compile(r"shutdown failed|\[error|Traceback", re.IGNORECASE)


def _children(pid: int) -> list[int]:
    """The processes `pid` started (its servers), as Linux lists them."""
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child that exited but is not reaped yet (the stack waits for each) counts as stopped.
    return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"


async def test_ctrl_c_stops_the_services_before_nats_and_postgres(tmp_path: Path) -> None:
    env = run_environment(secrets.token_urlsafe(32)) | {"LOG_JSON": "false"}
    proc = launch(tmp_path, free_port_offset(), env, own_group=True)
    output, logs = tmp_path / "tollgate-run.out", tmp_path / "logs"
    try:
        await banner(proc, tmp_path)
        children = _children(proc.pid)
        assert len(children) == len(SERVICES) + 4, children  # emulator, sink, NATS, Postgres

        os.killpg(proc.pid, signal.SIGINT)  # the terminal's Ctrl-C
        await wait_until(
            lambda: any(
                "Shutting down" in p.read_text(errors="replace") for p in logs.glob("*.log")
            ),
            message="the services stopping",
        )
        os.killpg(proc.pid, signal.SIGINT)  # passed on once more, as `uv run` does
        assert await asyncio.to_thread(proc.wait, 60) == 0, output.read_text(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Tollgate stopped." in output.read_text()
    for service in SERVICES:
        log = (logs / f"{service.name}.log").read_text(errors="replace")
        assert "Application shutdown complete." in log, (service.name, log[-3000:])
        assert not FAILED.search(log), (service.name, log[-3000:])
    assert not [pid for pid in children if _running(pid)], "a server still runs"
