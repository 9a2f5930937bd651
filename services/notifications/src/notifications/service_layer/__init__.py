"""One handler per consumed event (in the consumer's unit of work, never committing) and per
command; the sender and the reminder job."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

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
