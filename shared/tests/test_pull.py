"""Fetching with JetStream pull requests against a real NATS server: what is ready comes at
once and in batches, an idle fetch waits for the first message or times out, and nothing is
left waiting on the server."""

from __future__ import annotations

import asyncio
import time

import nats.errors
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

from tollgate_shared.messaging.pull import Puller
from tollgate_shared.testing import unique


async def test_ready_messages_come_in_batches_and_an_idle_fetch_waits_for_the_first(
    nats_client: NatsClient,
) -> None:
    js = nats_client.jetstream()
    stream = unique("PULL").upper()
    await js.add_stream(StreamConfig(name=stream, subjects=[f"{stream}.>"]))
    await js.add_consumer(stream, ConsumerConfig(durable_name="d", ack_policy=AckPolicy.EXPLICIT))
    puller = Puller(nats_client, stream, "d")
    await puller.start()
    try:
        started = time.monotonic()
        with pytest.raises(nats.errors.TimeoutError):
            await puller.fetch(64, timeout=0.5)
        assert time.monotonic() - started < 3  # ended by the server's expiry, not our margin

        for n in range(100):
            await js.publish(f"{stream}.x", str(n).encode())
        first = await puller.fetch(64, timeout=1)
        second = await puller.fetch(64, timeout=1)
        assert [m.data for m in first + second] == [str(n).encode() for n in range(100)]
        assert second[-1].metadata.num_pending == 0
        for msg in first + second:
            await msg.ack_sync()

        async def publish_later() -> None:
            await asyncio.sleep(0.3)
            await js.publish(f"{stream}.x", b"late")

        later = asyncio.create_task(publish_later())
        waited = await puller.fetch(64, timeout=5)
        await later
        assert [m.data for m in waited] == [b"late"]
        await waited[0].ack_sync()

        info = await js.consumer_info(stream, "d")
        assert info.num_waiting == 0  # no request left behind on the server
        assert info.num_ack_pending == 0
        assert info.num_pending == 0
    finally:
        await puller.stop()
        await js.delete_stream(stream)
