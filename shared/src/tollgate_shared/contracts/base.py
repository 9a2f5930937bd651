"""Base of Tollgate's own domain events: frozen, identified, versioned, routed by `type`."""

from __future__ import annotations

import builtins
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field


def _new_id() -> str:
    return uuid.uuid4().hex


class DomainEvent(BaseModel):
    """A fact a service publishes. `type` is the NATS subject; `version` the schema version.

    Subclasses set `type` (e.g. `membership.activated`) and `version` as class defaults.
    `id` becomes the JetStream Msg-Id, so a relayed event is stored once.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: str
    version: int = 1
    id: str = Field(default_factory=_new_id)
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    causation_id: str | None = None
    """The id of the message (e.g. Stripe event) that caused this event."""

    registry: ClassVar[dict[str, builtins.type[DomainEvent]]] = {}

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        event_type = cls.model_fields["type"].default
        if isinstance(event_type, str):
            DomainEvent.registry[event_type] = cls

    @property
    def subject(self) -> str:
        """The subject on the DOMAIN stream."""
        return self.type

    @classmethod
    def declared_type(cls) -> str:
        """The `type` (and subject) of every event of this class: its class default. A family
        of events (`MembershipEnded`) declares none: TypeError."""
        event_type = cls.model_fields["type"].default
        if not isinstance(event_type, str):
            raise TypeError(f"{cls.__name__} declares no event type")
        return event_type


class _TypeOnly(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str


def parse_domain_event(data: bytes | str) -> DomainEvent:
    """Parse a domain event as its registered class by `type`; unknown types parse as the base."""
    event_type = _TypeOnly.model_validate_json(data).type
    return DomainEvent.registry.get(event_type, DomainEvent).model_validate_json(data)
