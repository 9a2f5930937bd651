"""Webhook endpoints and events."""

from stripe_emulator.api import Call, StripeRouter
from stripe_emulator.errors import invalid, missing_param
from stripe_emulator.objects import billing
from stripe_emulator.operations.endpoints import register_endpoint
from stripe_emulator.store import StripeObject
from stripe_emulator.wire import Params

api = StripeRouter()


@api.post("/v1/webhook_endpoints")
def create_webhook_endpoint(call: Call) -> StripeObject:
    """Create an endpoint; the response (only this one) carries its `whsec_` secret."""
    p = call.params
    enabled_events = _enabled_events(p)
    secret = billing.webhook_secret()
    endpoint = register_endpoint(
        call.emulator,
        url=p.req("url"),
        enabled_events=enabled_events,
        secret=secret,
        description=p.text("description"),
        metadata=p.metadata(),
        api_version=p.text("api_version"),
    )
    return {**endpoint, "secret": secret}


def _enabled_events(p: Params) -> list[str]:
    events = p.strings("enabled_events")
    if not events:
        raise missing_param("enabled_events")
    return events


@api.get("/v1/webhook_endpoints/{id}")
def retrieve_webhook_endpoint(call: Call) -> StripeObject:
    """Retrieve a webhook endpoint."""
    return call.emulator.store.find("webhook_endpoint", call.path["id"])


@api.post("/v1/webhook_endpoints/{id}")
def update_webhook_endpoint(call: Call) -> StripeObject:
    """Update an endpoint's url, enabled events, description, metadata or `disabled`."""
    p, em = call.params, call.emulator
    endpoint = em.store.find("webhook_endpoint", call.path["id"])
    if p.has("url"):
        endpoint["url"] = p.req("url")
    if p.has("enabled_events"):
        endpoint["enabled_events"] = _enabled_events(p)
    if p.has("description"):
        endpoint["description"] = p.text("description")
    if p.has("disabled"):
        endpoint["status"] = "disabled" if p.flag("disabled") else "enabled"
    endpoint["metadata"] = p.metadata(endpoint["metadata"])
    em.dispatcher.remove(endpoint["id"])
    if endpoint["status"] == "enabled":
        secret = em.store.secret(endpoint["id"])["secret"]
        em.dispatcher.add(endpoint["id"], endpoint["url"], secret, endpoint["enabled_events"])
    return endpoint


@api.delete("/v1/webhook_endpoints/{id}")
def delete_webhook_endpoint(call: Call) -> StripeObject:
    """Delete an endpoint; it receives nothing more."""
    em = call.emulator
    endpoint = em.store.find("webhook_endpoint", call.path["id"])
    em.dispatcher.remove(endpoint["id"])
    em.store.remove(endpoint["id"])
    return {"id": endpoint["id"], "object": "webhook_endpoint", "deleted": True}


@api.get("/v1/webhook_endpoints")
def list_webhook_endpoints(call: Call) -> StripeObject:
    """List webhook endpoints."""
    return call.page(call.emulator.store.all("webhook_endpoint"), "/v1/webhook_endpoints")


@api.get("/v1/events/{id}")
def retrieve_event(call: Call) -> StripeObject:
    """Retrieve an event."""
    return call.emulator.store.find("event", call.path["id"])


@api.get("/v1/events")
def list_events(call: Call) -> StripeObject:
    """List events by `type` (with `*`), `types`, `created[gte|gt|lte|lt]`, `delivery_success`."""
    p = call.params
    patterns = [t for t in [p.text("type"), *p.strings("types")] if t]
    delivered = p.flag("delivery_success")
    created = _created_filter(p)
    items = [
        e
        for e in call.emulator.store.all("event")
        if (not patterns or any(_type_matches(e["type"], t) for t in patterns))
        and (delivered is None or (e["pending_webhooks"] == 0) == delivered)
        and created(e["created"])
    ]
    return call.page(items, "/v1/events")


def _type_matches(event_type: str, pattern: str) -> bool:
    if pattern.endswith("*"):
        return event_type.startswith(pattern[:-1])
    return event_type == pattern


def _created_filter(p: Params) -> "CreatedFilter":
    if isinstance(p.data.get("created"), str):
        exact = p.integer("created")
        return CreatedFilter(gte=exact, lte=exact)
    bounds = p.sub("created")
    for key in bounds.data:
        if key not in ("gt", "gte", "lt", "lte"):
            raise invalid(f"Received unknown parameter: created[{key}]", param=f"created[{key}]")
    return CreatedFilter(
        gt=bounds.integer("gt"),
        gte=bounds.integer("gte"),
        lt=bounds.integer("lt"),
        lte=bounds.integer("lte"),
    )


class CreatedFilter:
    def __init__(
        self,
        *,
        gt: int | None = None,
        gte: int | None = None,
        lt: int | None = None,
        lte: int | None = None,
    ) -> None:
        self.gt, self.gte, self.lt, self.lte = gt, gte, lt, lte

    def __call__(self, created: int) -> bool:
        return (
            (self.gt is None or created > self.gt)
            and (self.gte is None or created >= self.gte)
            and (self.lt is None or created < self.lt)
            and (self.lte is None or created <= self.lte)
        )
