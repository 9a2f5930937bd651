"""Stripe's event envelope: what the webhook gateway stores on the STRIPE stream, one message
per event under `stripe.<type>`, and every consumer of the stream parses (the objects it
carries: `stripe_objects`)."""

from __future__ import annotations

import builtins
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from tollgate_shared.contracts.stripe_objects import StripeObject


class EventData(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    object: dict[str, Any]
    previous_attributes: dict[str, Any] | None = None


class EventRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    id: str | None = None
    idempotency_key: str | None = None


T = TypeVar("T", bound=StripeObject)


EVENT_ID_MAX_LENGTH = 255
"""Stripe's bound on the ids it generates ("IDs of up to 255 characters", API upgrades guide);
every consumer's inbox and stored event ids hold that many."""
EVENT_TYPE_MAX_LENGTH = 100
"""Stripe's event types are dotted lowercase words well under this (the longest about 60);
the ledger keeps a type in 100 characters."""


class _Envelope(BaseModel):
    """The fields of Stripe's Event envelope but its data (`StripeEvent`)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: Annotated[str, Field(max_length=EVENT_ID_MAX_LENGTH, pattern=r"^evt_[A-Za-z0-9_]+$")]
    object: str = "event"
    type: Annotated[
        str, Field(max_length=EVENT_TYPE_MAX_LENGTH, pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")
    ]
    created: int
    livemode: bool
    account: str | None = None
    """The connected account the event is about (Connect); absent for the platform's own."""
    api_version: str | None = None
    request: EventRequest | None = None
    pending_webhooks: int | None = None

    @property
    def subject(self) -> str:
        """The JetStream subject this event is stored under: `stripe.<type>`."""
        return f"stripe.{self.type}"


class _AnyObject(BaseModel):
    """A JSON object whose fields are not read (nor built into Python values)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class _DataShape(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    object: _AnyObject
    previous_attributes: _AnyObject | None = None


class StripeEnvelope(_Envelope):
    """A Stripe event checked as `StripeEvent` would take it, without building its object:
    what the webhook gateway needs to verify and route a delivery it stores as it came."""

    data: _DataShape


class StripeEvent(_Envelope):
    """Stripe's Event envelope, as delivered to webhook endpoints.

    Only what every consumer can store and route is accepted: an id `evt_` + ASCII letters,
    digits and underscores (Stripe's form; Tollgate's own imported events are `evt_backfill_…`
    and `evt_resync_…`) of at most `EVENT_ID_MAX_LENGTH`, and a type of dot-separated non-empty
    tokens of lowercase letters, digits and underscores (a NATS subject token can hold none of
    `.`, `*`, `>` or whitespace, and an empty one is no subject) of at most
    `EVENT_TYPE_MAX_LENGTH`.

    Its object (`data.object`) is a dict, parsed by each handler as the model it needs."""

    data: EventData

    def object_as(self, model: builtins.type[T]) -> T:
        """`data.object` parsed as `model`."""
        return model.model_validate(self.data.object)
