"""Stopping background tasks without waiting for ever."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import structlog

log = structlog.get_logger(__name__)


async def cancel_and_wait(tasks: Iterable[asyncio.Task[object]], *, timeout: float = 10.0) -> None:
    """Cancel `tasks` and wait for them to end, for `timeout` seconds at most. One that swallowed
    its cancellation (on Python 3.11 `asyncio.wait_for` can, when its result arrives at the same
    moment) is cancelled again each second instead of awaited for ever; one still running at
    the end is logged and left. A task that failed has its exception logged."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    pending = set(tasks)
    while pending:
        remaining = deadline - loop.time()
        if remaining <= 0:
            log.error("tasks.not_stopped", tasks=sorted(t.get_name() for t in pending))
            return
        for task in pending:
            task.cancel()
        done, pending = await asyncio.wait(pending, timeout=min(1.0, remaining))
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.error("tasks.failed", task=task.get_name(), exc_info=task.exception())
