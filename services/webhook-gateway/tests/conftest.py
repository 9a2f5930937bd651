import json
import os
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import httpx
import pytest
import stripe

from tollgate_shared.infra.process import ServerProcess, free_port
from tollgate_shared.testing import serve_app, stripe_event, unique
from webhook_gateway.config import Settings
from webhook_gateway.main import create_app

SECRETS = ("whsec_current_0123456789", "whsec_previous_0123456789")


def make_event(event_type: str | None = None, **changes: object) -> dict:
    """A Stripe event envelope of realistic shape, with a unique id (and type, for counting)."""
    invoice = {"id": unique("in"), "object": "invoice", "amount_paid": 2000}
    return stripe_event(
        event_type or f"test.{unique('type').lower()}",
        invoice,
        pending_webhooks=1,
        request={"id": None, "idempotency_key": None},
        **changes,
    )


def signed(body: bytes, secret: str = SECRETS[0], timestamp: int | None = None) -> dict:
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), secret, timestamp)
    return {"Stripe-Signature": header, "Content-Type": "application/json"}


def encode(event: dict) -> bytes:
    return json.dumps(event).encode()


def start_gateway(
    nats_url: str, log_dir: Path, *, python: Sequence[str] = ("-m", "webhook_gateway"), **env: str
) -> tuple[ServerProcess, int]:
    """`webhook-gateway serve` as a process on a free port, listening; and that port. `python`:
    what the interpreter runs (`-c` and a program that starts the gateway itself)."""
    port = free_port()
    server = ServerProcess(
        "webhook-gateway",
        [sys.executable, *python, "serve", "--port", str(port)],
        log_path=log_dir / "gateway.log",
        env=dict(os.environ, NATS_URL=nats_url, STRIPE_WEBHOOK_SECRET=SECRETS[0], **env),
    )
    try:
        server.wait_for_port("127.0.0.1", port)
    except Exception:
        server.stop()
        raise
    return server, port


@pytest.fixture
def gateway_settings(nats_url: str) -> Callable[..., Settings]:
    def make(**overrides: object) -> Settings:
        values = {
            "service_name": "webhook-gateway",
            "nats_url": nats_url,
            "stripe_webhook_secret": ",".join(SECRETS),
            "gateway_publish_timeout": 1.0,
        } | overrides
        return Settings(**values)

    return make


@pytest.fixture
async def gateway(gateway_settings: Callable[..., Settings]) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        serve_app(create_app(gateway_settings())) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        yield client
