"""Webhook endpoints: stored like Stripe's, delivered to by the dispatcher."""

from stripe_emulator.emulator import Emulator
from stripe_emulator.objects import billing
from stripe_emulator.store import StripeObject


def register_endpoint(
    emulator: Emulator,
    *,
    url: str,
    enabled_events: list[str],
    secret: str,
    description: str | None = None,
    metadata: dict[str, str] | None = None,
    api_version: str | None = None,
) -> StripeObject:
    """Store an endpoint and start delivering to it; the secret stays private."""
    endpoint = emulator.store.add(
        billing.webhook_endpoint(
            created=emulator.now(),
            url=url,
            enabled_events=enabled_events,
            description=description,
            metadata=metadata or {},
            api_version=api_version,
        ),
        secret=secret,
    )
    emulator.dispatcher.add(endpoint["id"], url, secret, enabled_events)
    return endpoint


def register_startup_webhooks(emulator: Emulator) -> None:
    """Endpoints given on the command line or in the environment, for every event type."""
    for target in emulator.settings.webhooks:
        register_endpoint(emulator, url=target.url, enabled_events=["*"], secret=target.secret)
