"""NATS goes away mid-run: the gateway answers 503, and Stripe's retries are stored afterwards
with the stream holding exactly the events that were answered 200, without gaps."""

from pathlib import Path

import httpx
import nats

from tollgate_shared.infra.nats import start_nats
from tollgate_shared.infra.process import free_port
from tollgate_shared.messaging.streams import STRIPE, ensure_streams
from tollgate_shared.testing import serve_app, wait_until
from webhook_gateway.config import Settings
from webhook_gateway.main import create_app

from .conftest import SECRETS, encode, make_event, signed


async def deliver(client: httpx.AsyncClient, body: bytes) -> int:
    response = await client.post("/webhooks/stripe", content=body, headers=signed(body))
    if response.status_code == 503:
        assert response.json()["error"]["code"] == "broker_unavailable"
        assert response.headers["Retry-After"]
    return response.status_code


async def test_nats_outage_gives_503_then_retries_are_stored_without_gaps(tmp_path: Path) -> None:
    port = free_port()
    server = start_nats(tmp_path, port=port)
    url = f"nats://127.0.0.1:{port}"
    settings = Settings(
        service_name="webhook-gateway",
        nats_url=url,
        stripe_webhook_secret=SECRETS[0],
        gateway_publish_timeout=0.5,
    )
    events = [encode(make_event("invoice.paid")) for _ in range(30)]
    accepted: set[int] = set()
    refused: list[int] = []
    try:
        async with (
            serve_app(create_app(settings)) as base,
            httpx.AsyncClient(base_url=base, timeout=10) as client,
        ):
            for i in range(10):
                assert await deliver(client, events[i]) == 200
                accepted.add(i)
            server.stop()
            for i in range(10, 20):
                status = await deliver(client, events[i])
                assert status == 503
                refused.append(i)
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["broker"] is False

            server = start_nats(tmp_path, port=port)

            async def reconnected() -> bool:
                return (await client.get("/readyz")).status_code == 200

            await wait_until(reconnected, message="gateway reconnected", timeout=30)
            # Stripe retries what was refused, and keeps sending new events.
            for i in [*refused, *range(20, 30)]:
                assert await deliver(client, events[i]) == 200
                accepted.add(i)
            # A late duplicate of an early delivery changes nothing.
            assert await deliver(client, events[0]) == 200

        nc = await nats.connect(url)
        js = nc.jetstream()
        await ensure_streams(js)
        info = await js.stream_info(STRIPE.name)
        assert info.state.messages == len(accepted) == 30
        assert (info.state.first_seq, info.state.last_seq) == (1, 30)
        stored_ids = set()
        for seq in range(1, 31):
            stored_ids.add((await js.get_msg(STRIPE.name, seq)).headers["Nats-Msg-Id"])
        assert len(stored_ids) == 30
        await nc.close()
    finally:
        server.stop()
