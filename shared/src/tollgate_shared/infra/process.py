"""Child server processes that die with their parent and stop cleanly."""

from __future__ import annotations

import ctypes
import functools
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

PR_SET_PDEATHSIG = 1


def _die_with_parent(sig: signal.Signals) -> None:  # runs in the child before exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, sig)


LOWEST_PORT = 15_000
"""Ports `free_port` picks from start here, above the services' usual ones."""
EPHEMERAL_PORTS = Path("/proc/sys/net/ipv4/ip_local_port_range")
_RANDOM = random.SystemRandom()


def free_port() -> int:
    """A TCP port on loopback that nothing uses right now, for a server about to start.

    Picked at random below the kernel's range for outgoing connections' local ports: a port
    from that range (what binding port 0 gives) can be taken by any process's outgoing
    connection before the server binds it, which then fails with "address already in use".
    Where that range is unknown or leaves no room, the kernel picks (port 0)."""
    try:
        first_ephemeral = int(EPHEMERAL_PORTS.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        first_ephemeral = LOWEST_PORT
    for _ in range(100 if first_ephemeral > LOWEST_PORT + 1_000 else 0):
        port = _RANDOM.randrange(LOWEST_PORT, first_ephemeral)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def kill_stale(pidfile: Path, sig: signal.Signals = signal.SIGTERM) -> None:
    """Stop a server a previous run left behind (its pid is in `pidfile`) with `sig`."""
    try:
        pid = int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pidfile.unlink(missing_ok=True)
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
    pidfile.unlink(missing_ok=True)


class ServerProcess:
    """A server run as our child; it gets `stop_signal` if we die, so nothing is orphaned."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        user: str | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.stop_signal = stop_signal
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(
            list(argv),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            user=user,
            env=env,
            preexec_fn=functools.partial(_die_with_parent, stop_signal),
            start_new_session=True,
        )

    def log_tail(self, lines: int = 20) -> str:
        """The last lines the server wrote, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_for_port(self, host: str, port: int, timeout: float = 30.0) -> None:
        """Block until the server accepts connections, or raise with its exit status."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            if port_open(host, port):
                return
            time.sleep(0.05)
        raise TimeoutError(f"{self.name} did not listen on {host}:{port} within {timeout}s")

    def stop(self, timeout: float = 15.0) -> None:
        """Ask the server to stop, waiting for it; kill it if it does not."""
        if self.proc.poll() is None:
            self.proc.send_signal(self.stop_signal)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
