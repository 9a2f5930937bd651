"""The gateway process serves with the shared HTTP protocol: a client that stalls in its
headers is disconnected after `HTTP_HEADER_TIMEOUT_SECONDS`, while webhooks are stored."""

import asyncio
import os
import sys
from pathlib import Path

import httpx

from tollgate_shared.infra.process import ServerProcess, free_port

from .conftest import SECRETS, encode, make_event, signed


async def test_a_stalled_client_is_disconnected_and_webhooks_still_stored(
    nats_url: str, js, tmp_path: Path
) -> None:
    port = free_port()
    server = ServerProcess(
        "webhook-gateway",
        [sys.executable, "-m", "webhook_gateway", "serve", "--port", str(port)],
        log_path=tmp_path / "gateway.log",
        env=dict(
            os.environ,
            NATS_URL=nats_url,
            STRIPE_WEBHOOK_SECRET=SECRETS[0],
            HTTP_HEADER_TIMEOUT_SECONDS="1",
        ),
    )
    try:
        server.wait_for_port("127.0.0.1", port)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /webhooks/stripe HTTP/1.1\r\nHost: gateway\r\nStripe-Sig")
        assert await asyncio.wait_for(reader.read(), 30) == b"", "closed without an answer"
        writer.close()

        body = encode(make_event())
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            stored = await client.post("/webhooks/stripe", content=body, headers=signed(body))
        assert stored.status_code == 200, stored.text
    finally:
        server.stop()
