"""Route a consumer's messages to one handler per event type.

Stripe events and domain events alike arrive parsed and typed. A service lists what it reacts
to; its durable consumer is asked for those subjects only, and anything else that arrives is
acked untouched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar

from tollgate_shared.events.base import DomainEvent, parse_domain_event
from tollgate_shared.events.stripe import StripeEvent
from tollgate_shared.messaging.consumer import Incoming

E = TypeVar("E")
EventHandler = Callable[[Any, Any], Awaitable[None]]
"""Applies a parsed event through a service's unit of work."""


class Dispatcher(Generic[E]):
    """Parses a message and calls the handler registered for its subject (minus `prefix`)."""

    def __init__(
        self,
        handlers: Mapping[str, EventHandler],
        *,
        parse: Callable[[bytes], E],
        prefix: str = "",
    ) -> None:
        self._handlers = dict(handlers)
        self._parse = parse
        self._prefix = prefix

    @property
    def subjects(self) -> tuple[str, ...]:
        """The subjects it has handlers for: its consumer asks the server for these only."""
        return tuple(self._prefix + event_type for event_type in self._handlers)

    def accepts(self, subject: str) -> bool:
        """Whether a handler exists for messages on `subject`."""
        return subject.removeprefix(self._prefix) in self._handlers

    async def __call__(self, uow: Any, incoming: Incoming) -> None:
        handler = self._handlers[incoming.subject.removeprefix(self._prefix)]
        await handler(uow, self._parse(incoming.data))


def stripe_dispatcher(handlers: Mapping[str, EventHandler]) -> Dispatcher[StripeEvent]:
    """Handlers keyed by Stripe event type (`invoice.paid`), receiving a StripeEvent."""
    return Dispatcher(handlers, parse=StripeEvent.model_validate_json, prefix="stripe.")


def domain_dispatcher(handlers: Mapping[str, EventHandler]) -> Dispatcher[DomainEvent]:
    """Handlers keyed by domain event type (`membership.activated`), receiving the event."""
    return Dispatcher(handlers, parse=parse_domain_event)
