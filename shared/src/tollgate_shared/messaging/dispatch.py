"""What a consumer applies: the subjects it wants, how their messages parse into typed events,
the handler of each, and what to lock and read for a whole fetch before its handlers run.

Stripe events and domain events alike reach handlers parsed and typed, with the service's
unit of work. A service lists what it reacts to; its durable is asked for those subjects
only, and anything else that arrives is acked untouched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any, Protocol, Union

from tollgate_shared.contracts.base import DomainEvent, parse_domain_event
from tollgate_shared.contracts.stripe import StripeEvent
from tollgate_shared.messaging.message import Incoming

Handler = Callable[[Any, Any], Awaitable[None]]
"""Applies one parsed event through a service's unit of work; never commits."""
Prefetch = Callable[[Any, Sequence[Any]], Awaitable[Collection[Any] | None]]
"""Runs in a fetch's transaction before its handlers, outside their savepoints, with the
events they will apply (stream order), and before the handler of a message applied alone:
may take, in one statement for all of them, the locks and reads the handlers would take one
by one (locks taken so, in one order, keep concurrent fetches from deadlocking). What it reads
must stay right for every handler of the fetch, also after another message was rolled back.
It may return the events it found need nothing (another app's, on a shared Stripe account):
their handlers do not run, and they cost their fetch no savepoint."""


async def unneeded(prefetch: Prefetch | None, uow: Any, events: Sequence[Any]) -> frozenset[int]:
    """Run `prefetch`, if any, on a fetch's `events`: the `id()`s of those it found need
    nothing."""
    if prefetch is None or not events:
        return frozenset()
    return frozenset(map(id, await prefetch(uow, events) or ()))


class Handlers(Protocol):
    """What the consumer core asks of a service's handlers."""

    @property
    def subjects(self) -> tuple[str, ...]:
        """The subjects to ask the server for (none: everything under the durable's filter)."""
        ...

    @property
    def payload(self) -> Any:
        """The type of the events it takes (documented in the AsyncAPI schema)."""
        ...

    def accepts(self, subject: str) -> bool:
        """Whether messages on `subject` are applied (others are acked untouched)."""
        ...

    def parse(self, incoming: Incoming) -> Any:
        """The typed event of a message (raises if it is not one)."""
        ...

    async def prefetch(self, uow: Any, events: Sequence[Any]) -> frozenset[int]:
        """Before the handlers of a fetch, or of a message applied alone (see `Prefetch`): the
        `id()`s of the events whose handlers need not run."""
        ...

    async def apply(self, uow: Any, subject: str, event: Any) -> None:
        """Run the handler of `subject` with `event`."""
        ...


class Dispatcher:
    """Handlers by subject (minus `prefix`), messages parsed by `parse`."""

    def __init__(
        self,
        handlers: Mapping[str, Handler],
        *,
        parse: Callable[[bytes], Any],
        payload: Any,
        prefix: str = "",
        prefetch: Prefetch | None = None,
    ) -> None:
        self._handlers = {prefix + name: handler for name, handler in handlers.items()}
        self._parse = parse
        self._prefetch = prefetch
        self.payload = payload

    @property
    def subjects(self) -> tuple[str, ...]:
        """The subjects it has handlers for: its consumer asks the server for these only."""
        return tuple(self._handlers)

    def accepts(self, subject: str) -> bool:
        """Whether a handler exists for messages on `subject`."""
        return subject in self._handlers

    def parse(self, incoming: Incoming) -> Any:
        """The message's event, parsed and validated."""
        return self._parse(incoming.data)

    async def prefetch(self, uow: Any, events: Sequence[Any]) -> frozenset[int]:
        """The service's prefetch, if it has one; what it found needs nothing."""
        return await unneeded(self._prefetch, uow, events)

    async def apply(self, uow: Any, subject: str, event: Any) -> None:
        """Run the handler of `subject`."""
        await self._handlers[subject](uow, event)


def stripe_dispatcher(
    handlers: Mapping[str, Handler], *, prefetch: Prefetch | None = None
) -> Dispatcher:
    """Handlers keyed by Stripe event type (`invoice.paid`), receiving a StripeEvent."""
    return Dispatcher(
        handlers,
        parse=StripeEvent.model_validate_json,
        payload=StripeEvent,
        prefix="stripe.",
        prefetch=prefetch,
    )


def domain_dispatcher(
    handlers: Mapping[type[DomainEvent], Handler], *, prefetch: Prefetch | None = None
) -> Dispatcher:
    """Handlers keyed by domain event class (`MembershipActivated`), each on the subject its
    class declares (`membership.activated`), receiving the event."""
    by_subject = {cls.declared_type(): handler for cls, handler in handlers.items()}
    classes = tuple(handlers)
    payload = Union[classes] if classes else DomainEvent  # noqa: UP007
    return Dispatcher(by_subject, parse=_parse_domain_event, payload=payload, prefetch=prefetch)


def _parse_domain_event(data: bytes) -> DomainEvent:
    return parse_domain_event(data)
