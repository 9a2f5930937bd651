"""Webhook endpoints and events."""

from stripe_emulator.api import Call, StripeRouter
from stripe_emulator.errors import missing_param
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
    items = [
        e
        for e in call.emulator.store.all("event")
        if (not patterns or any(_type_matches(e["type"], t) for t in patterns))
        and (delivered is None or (e["pending_webhooks"] == 0) == delivered)
    ]
    return call.page(items, "/v1/events")


def _type_matches(event_type: str, pattern: str) -> bool:
    if pattern.endswith("*"):
        return event_type.startswith(pattern[:-1])
    return event_type == pattern
