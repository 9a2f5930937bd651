"""One handler per consumed event (in the consumer's unit of work, never committing) and per
command; the sender and the scheduled jobs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from notifications.adapters.templates import Renderer
    from notifications.config import Settings
    from notifications.domain.links import Links
    from notifications.service_layer.handlers import Handlers
    from notifications.service_layer.unit_of_work import NotificationsUnitOfWork


@dataclass(frozen=True)
class Deps:
    """What notifications' handlers and routes need besides a unit of work."""

    settings: Settings
    uow: Callable[[], NotificationsUnitOfWork]
    """A unit of work per transaction."""
    handlers: Handlers
    """The handlers of consumed events, with the notifier they record intents through."""
    renderer: Renderer
    links: Links


log = structlog.get_logger(__name__)


async def every(interval: float, job: Callable[[], Awaitable[int]], *, name: str) -> None:
    """Run `job` every `interval` seconds until cancelled, logging how many notifications a
    run recorded (`<name>.recorded`) and a run that failed (`<name>.failed`)."""
    while True:
        try:
            if recorded := await job():
                log.info(f"{name}.recorded", count=recorded)
        except Exception:
            log.exception(f"{name}.failed")
        await asyncio.sleep(interval)
