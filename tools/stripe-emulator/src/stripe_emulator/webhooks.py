"""Webhook delivery: one ordered queue and worker per endpoint, signed, retried with backoff."""

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from stripe_emulator.ids import new_id
from stripe_emulator.settings import RetryPolicy

DeliveryMode = Literal["normal", "duplicate", "delayed", "out_of_order"]


def sign(payload: str, secret: str, timestamp: int) -> str:
    """The `Stripe-Signature` header value for `payload`."""
    digest = hmac.new(
        secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256
    ).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass
class DeliveryOptions:
    """How one endpoint receives its events; tests switch these to rehearse Stripe's quirks."""

    mode: DeliveryMode = "normal"
    delay_seconds: float = 0.5
    window_seconds: float = 0.3


@dataclass
class Endpoint:
    id: str
    url: str
    secret: str
    enabled_events: list[str]
    options: DeliveryOptions = field(default_factory=DeliveryOptions)
    queue: asyncio.Queue[tuple[str, str, str]] = field(default_factory=asyncio.Queue)
    worker: asyncio.Task[None] | None = None

    def wants(self, event_type: str) -> bool:
        return any(
            pattern == "*"
            or pattern == event_type
            or (pattern.endswith(".*") and event_type.startswith(pattern[:-1]))
            for pattern in self.enabled_events
        )


class Dispatcher:
    """Sends events to endpoints; `on_delivered(event_id)` is called once per endpoint success."""

    def __init__(
        self,
        retry: RetryPolicy,
        timeout_seconds: float,
        on_delivered: Callable[[str], None],
    ) -> None:
        self.retry = retry
        self.timeout_seconds = timeout_seconds
        self.on_delivered = on_delivered
        self.endpoints: dict[str, Endpoint] = {}
        self.deliveries: list[dict[str, Any]] = []
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=self.timeout_seconds)

    async def stop(self) -> None:
        await self.reset()
        if self._client is not None:
            await self._client.aclose()

    async def reset(self) -> None:
        workers = [ep.worker for ep in self.endpoints.values() if ep.worker is not None]
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        self.endpoints.clear()
        self.deliveries.clear()

    def add(self, endpoint_id: str, url: str, secret: str, enabled_events: list[str]) -> Endpoint:
        endpoint = Endpoint(endpoint_id, url, secret, enabled_events)
        self.endpoints[endpoint_id] = endpoint
        return endpoint

    def remove(self, endpoint_id: str) -> None:
        endpoint = self.endpoints.pop(endpoint_id, None)
        if endpoint is not None and endpoint.worker is not None:
            endpoint.worker.cancel()

    def targets(self, event_type: str) -> list[Endpoint]:
        return [ep for ep in self.endpoints.values() if ep.wants(event_type)]

    def publish(self, event: dict[str, Any], targets: list[Endpoint]) -> None:
        """Queue `event` (as it is now) for each target; must run on the event loop."""
        payload = json.dumps(event, indent=2)
        for endpoint in targets:
            endpoint.queue.put_nowait((event["id"], event["type"], payload))
            if endpoint.worker is None or endpoint.worker.done():
                endpoint.worker = asyncio.get_running_loop().create_task(self._run(endpoint))

    async def _run(self, endpoint: Endpoint) -> None:
        while True:
            batch = [await endpoint.queue.get()]
            options = endpoint.options
            if options.mode == "out_of_order":
                await asyncio.sleep(options.window_seconds)
                while not endpoint.queue.empty():
                    batch.append(endpoint.queue.get_nowait())
                batch.reverse()
            for item in batch:
                if options.mode == "delayed":
                    await asyncio.sleep(options.delay_seconds)
                copies = 2 if options.mode == "duplicate" else 1
                for copy_number in range(copies):
                    await self._deliver(endpoint, *item, count=copy_number == 0)

    async def _deliver(
        self, endpoint: Endpoint, event_id: str, event_type: str, payload: str, *, count: bool
    ) -> None:
        assert self._client is not None, "Dispatcher.start() was not awaited"
        for attempt in range(1, self.retry.max_attempts + 1):
            record: dict[str, Any] = {
                "id": new_id("whdel"),
                "event": event_id,
                "type": event_type,
                "endpoint": endpoint.id,
                "url": endpoint.url,
                "attempt": attempt,
                "created": time.time(),
                "status_code": None,
                "error": None,
                "succeeded": False,
            }
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": sign(payload, endpoint.secret, int(time.time())),
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            }
            try:
                response = await self._client.post(endpoint.url, content=payload, headers=headers)
                record["status_code"] = response.status_code
                record["succeeded"] = 200 <= response.status_code < 300
            except httpx.HTTPError as exc:
                record["error"] = f"{type(exc).__name__}: {exc}"
            self.deliveries.append(record)
            if record["succeeded"]:
                if count:
                    self.on_delivered(event_id)
                return
            if attempt < self.retry.max_attempts:
                backoff = self.retry.base_seconds * 2 ** (attempt - 1)
                await asyncio.sleep(min(backoff, self.retry.max_seconds))
