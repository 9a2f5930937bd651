"""Fixtures: a real emulator on a free port, the stripe SDK pointed at it, a webhook receiver."""

from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from stripe_emulator.settings import RetryPolicy, Settings
from stripe_emulator.testing import (
    RunningEmulator,
    WebhookReceiver,
    free_port,
    receive_webhooks,
    serve,
)

API_KEY = "sk_test_emulator"
WEBHOOK_SECRET = "whsec_test_secret_for_the_emulator"


@pytest.fixture
def emulator() -> Iterator[RunningEmulator]:
    settings = Settings(
        port=free_port(),
        test_mode=True,
        retry=RetryPolicy(base_seconds=0.02, max_seconds=0.1, max_attempts=5),
    )
    with serve(settings) as running:
        yield running


@pytest.fixture
def client(emulator: RunningEmulator) -> stripe.StripeClient:
    return stripe.StripeClient(
        API_KEY, base_addresses={"api": emulator.base_url}, max_network_retries=0
    )


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with receive_webhooks() as running:
        yield running


@pytest.fixture
def hooked(emulator: RunningEmulator, receiver: WebhookReceiver) -> RunningEmulator:
    """The emulator delivering to `receiver`, signed with `WEBHOOK_SECRET`."""
    emulator.control(
        "POST", "/webhook_endpoints", json={"url": receiver.url, "secret": WEBHOOK_SECRET}
    )
    return emulator


@pytest.fixture
def catalog(client: stripe.StripeClient) -> dict[str, Any]:
    """A product with a monthly and a one-time EUR price."""
    product = client.v1.products.create({"name": "Gold membership"})
    monthly = client.v1.prices.create(
        {
            "product": product.id,
            "currency": "eur",
            "unit_amount": 2000,
            "recurring": {"interval": "month"},
        }
    )
    once = client.v1.prices.create({"product": product.id, "currency": "eur", "unit_amount": 1500})
    return {"product": product, "monthly": monthly, "once": once}
