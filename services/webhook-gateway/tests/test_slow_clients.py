"""The gateway process serves with the shared HTTP protocol: a client that stalls in its
headers is disconnected after `HTTP_HEADER_TIMEOUT_SECONDS`, while webhooks are stored."""

import asyncio
from pathlib import Path

import httpx

from .conftest import encode, make_event, signed, start_gateway


async def test_a_stalled_client_is_disconnected_and_webhooks_still_stored(
    nats_url: str, js, tmp_path: Path
) -> None:
    server, port = start_gateway(nats_url, tmp_path, HTTP_HEADER_TIMEOUT_SECONDS="1")
    try:
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
