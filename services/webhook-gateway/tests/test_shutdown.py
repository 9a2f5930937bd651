"""SIGTERM while requests are in flight: every request already accepted is finished and
answered, and every event answered 200 is on the stream."""

import asyncio
import signal
from pathlib import Path

import httpx
from nats.js import JetStreamContext

from tollgate_shared.messaging.streams import STRIPE
from tollgate_shared.testing import wait_until

from .conftest import encode, make_event, signed, start_gateway


async def test_graceful_shutdown_finishes_in_flight_requests(
    nats_url: str, js: JetStreamContext, tmp_path: Path
) -> None:
    server, port = start_gateway(nats_url, tmp_path)
    event_type = make_event()["type"]
    bodies = [encode(make_event(event_type)) for _ in range(200)]
    url = f"http://127.0.0.1:{port}/webhooks/stripe"
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def post(body: bytes) -> int:
            try:
                return (await client.post(url, content=body, headers=signed(body))).status_code
            except httpx.TransportError:
                return 0  # never accepted: Stripe would retry it

        tasks = [asyncio.create_task(post(body)) for body in bodies]
        await wait_until(lambda: sum(task.done() for task in tasks) >= 20, interval=0.005)
        answered_before_signal = sum(task.done() for task in tasks)
        server.proc.send_signal(signal.SIGTERM)
        statuses = await asyncio.gather(*tasks)
    # uvicorn re-raises SIGTERM once its graceful shutdown is complete.
    assert server.proc.wait(timeout=30) in (0, -signal.SIGTERM)
    server.stop()

    assert set(statuses) <= {0, 200}
    accepted = statuses.count(200)
    assert accepted > answered_before_signal, "requests in flight at SIGTERM were answered"
    info = await js.stream_info(STRIPE.name, subjects_filter=f"stripe.{event_type}")
    assert (info.state.subjects or {}).get(f"stripe.{event_type}", 0) == accepted
