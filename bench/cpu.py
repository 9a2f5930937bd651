"""CPU time per process of a part (user + system, from `/proc`), to show where a saturated
machine's time goes: each service, Postgres (its server and backends), NATS, the mail sink and
the bench process itself (the publisher)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    """The fields of `/proc/<pid>/stat` after the command name; None once the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) and int(fields[1]) == parent:
            found.append(int(entry.name))
    return found


def _seconds(pid: int) -> float:
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS if fields else 0.0


class CpuMeter:
    """Groups the bench's processes: the services by pid, Postgres (the server started by this
    process and its backends), NATS and the mail sink by their command line, the publisher as
    this process. A backend that ends between two readings takes its time with it."""

    def __init__(self, services: Mapping[str, int]) -> None:
        self._services = dict(services)

    def _groups(self) -> dict[str, list[int]]:
        groups: dict[str, list[int]] = {name: [pid] for name, pid in self._services.items()}
        groups |= {"postgres": [], "nats": [], "mail sink": [], "publisher": [os.getpid()]}
        known = set(self._services.values())
        for pid in _children(os.getpid()):
            if pid in known:
                continue
            command = _cmdline(pid)
            if "nats-server" in command:
                groups["nats"].append(pid)
            elif "postgres" in command:
                groups["postgres"] += [pid, *_children(pid)]
            elif "mail_sink" in command:
                groups["mail sink"].append(pid)
        return groups

    def reading(self) -> dict[str, dict[int, float]]:
        """CPU-seconds so far of every process, by group."""
        return {name: {p: _seconds(p) for p in pids} for name, pids in self._groups().items()}

    def since(self, before: dict[str, dict[int, float]]) -> dict[str, float]:
        """CPU-seconds each group used since `before` (processes started since count whole)."""
        now = self.reading()
        return {
            name: round(sum(t - before.get(name, {}).get(p, 0.0) for p, t in pids.items()), 2)
            for name, pids in now.items()
        }
