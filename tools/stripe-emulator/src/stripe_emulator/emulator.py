"""The emulator's composition root: settings, state, events and webhook delivery."""

import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from stripe_emulator.ids import new_id
from stripe_emulator.limits import RATES, Limiter
from stripe_emulator.settings import Settings
from stripe_emulator.store import Store, StripeObject
from stripe_emulator.webhooks import Dispatcher


@dataclass(frozen=True)
class RequestInfo:
    """The API request that caused an event (`event.request`)."""

    id: str | None
    idempotency_key: str | None


current_request: ContextVar[RequestInfo | None] = ContextVar("current_request", default=None)


class Emulator:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = Store()
        if settings.rate_limits not in RATES:
            raise ValueError(f"rate limits must be one of {', '.join(RATES)}")
        self.limiter = Limiter(RATES[settings.rate_limits])
        self.dispatcher = Dispatcher(
            settings.retry_policy, settings.delivery_timeout_seconds, self._delivered
        )

    def now(self) -> int:
        return int(time.time())

    def emit(
        self,
        event_type: str,
        obj: StripeObject,
        previous_attributes: dict[str, Any] | None = None,
    ) -> StripeObject:
        """Record an event about `obj` as it is now and queue it for every enabled endpoint."""
        request = current_request.get() or RequestInfo(None, None)
        targets = self.dispatcher.targets(event_type)
        data: dict[str, Any] = {"object": self.store.snapshot(obj)}
        if previous_attributes is not None:
            data["previous_attributes"] = previous_attributes
        event = self.store.add(
            {
                "id": new_id("evt"),
                "object": "event",
                "api_version": self.settings.api_version,
                "created": self.now(),
                "data": data,
                "livemode": False,
                "pending_webhooks": len(targets),
                "request": {"id": request.id, "idempotency_key": request.idempotency_key},
                "type": event_type,
            }
        )
        self.dispatcher.publish(event, targets)
        return event

    def _delivered(self, event_id: str) -> None:
        with self.store.lock:
            event = self.store.get(event_id)
            if event is not None and event["pending_webhooks"] > 0:
                event["pending_webhooks"] -= 1
