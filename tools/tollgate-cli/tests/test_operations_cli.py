"""`tollgate dlq`, `consumers` and `rewind` against a real JetStream, and a real membership
service for a rewind while its consumer runs."""

import asyncio
import re
import subprocess
import sys
from typing import Any

from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig

from tollgate_shared.messaging import dlq
from tollgate_shared.messaging.publish import publish_with_ack
from tollgate_shared.testing import (
    consumer_idle,
    one_line_error,
    publish_stripe_event,
    run_cli,
    stripe_event,
    unique,
    wait_until,
)


def tollgate(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli([sys.executable, "-m", "tollgate_cli", *args], env=env)


async def test_list_show_and_drop(nats_url: str, js: JetStreamContext) -> None:
    service = unique("svc")
    original = unique("evt")
    ack = await publish_with_ack(
        js,
        f"dlq.{service}.stripe.invoice.paid",
        b'{"id": "%s"}' % original.encode(),
        msg_id=unique("d"),
        stream="DLQ",
        headers={
            dlq.ORIGINAL_SUBJECT: "stripe.invoice.paid",
            "Tollgate-Original-Msg-Id": original,
            dlq.ERROR: "PermanentError: unknown tier",
            dlq.DELIVERED: "1",
        },
    )
    # NATS_URL as the services read it, or --nats-url after the action (or before it).
    listing = tollgate("dlq", "list", "--service", service, NATS_URL=nats_url)
    assert original in listing.stdout and "unknown tier" in listing.stdout, listing.stderr
    shown = tollgate("dlq", "show", str(ack.seq), "--nats-url", nats_url)
    assert original in shown.stdout, shown.stderr

    dropped = tollgate("dlq", "--nats-url", nats_url, "drop", "--service", service)
    assert "drop: 1 done" in dropped.stdout, dropped.stderr
    assert [letter async for letter in dlq.iterate(js, service=service)] == []


async def test_dead_letters_that_are_not_there(nats_url: str, js: JetStreamContext) -> None:
    info = await js.stream_info("DLQ")
    missing = str(info.state.last_seq + 1000)
    for action in ("show", "replay", "drop"):
        refused = tollgate("dlq", action, missing, NATS_URL=nats_url)
        assert one_line_error(refused, "tollgate") == (
            f"tollgate: no dead letter at sequence {missing} (see `tollgate dlq list`)"
        )
    unnamed = tollgate("dlq", "replay", NATS_URL=nats_url)
    assert unnamed.returncode == 2
    assert "name sequences, or --service S, or --all" in one_line_error(unnamed, "tollgate")


async def test_consumers_and_rewind(nats_url: str, js: JetStreamContext) -> None:
    durable = unique("svc")
    subject = f"stripe.{unique('t')}"
    await publish_with_ack(js, subject, b"{}", msg_id=unique("e"), stream="STRIPE")
    await js.add_consumer("STRIPE", ConsumerConfig(durable_name=durable, filter_subject=subject))
    sub = await js.pull_subscribe(subject, durable=durable, stream="STRIPE")
    [msg] = await sub.fetch(1, timeout=5)
    await msg.ack_sync()
    await sub.unsubscribe()

    assert durable in tollgate("consumers", "--nats-url", nats_url).stdout
    rewound = tollgate("rewind", durable, "--sequence", "1", "--no-wait", NATS_URL=nats_url)
    assert rewound.returncode == 0, rewound.stderr
    assert f"{durable} on STRIPE rewound to sequence 1: 1 messages to replay" in rewound.stdout
    info = await js.consumer_info("STRIPE", durable)
    assert info.num_pending == 1

    unknown = tollgate("rewind", unique("nobody"), "--stream", "DOMAIN", NATS_URL=nats_url)
    assert "tollgate: no consumer 'nobody_" in one_line_error(unknown, "tollgate")
    assert "on stream DOMAIN (see `tollgate consumers`)" in unknown.stderr


def foreign_subscription() -> dict[str, Any]:
    """A subscription of another app on the account: membership acks it and changes nothing."""
    return {"id": unique("sub"), "object": "subscription", "status": "active", "metadata": {}}


async def test_rewind_refuses_while_the_service_consumes_unless_forced(
    nats_url: str, js: JetStreamContext, membership: Any
) -> None:
    for _ in range(3):
        event = stripe_event("customer.subscription.updated", foreign_subscription())
        await publish_stripe_event(js, event)
    async with membership():
        await wait_until(lambda: consumer_idle(js, "STRIPE", "membership"), timeout=30)
        refused = await asyncio.to_thread(tollgate, "rewind", "membership", NATS_URL=nats_url)
        assert one_line_error(refused, "tollgate") == (
            "tollgate: membership is consuming STRIPE (1 pull request(s) waiting): stop its "
            "service first, or pass --force"
        )
        assert (await js.consumer_info("STRIPE", "membership")).num_pending == 0

        forced = await asyncio.to_thread(
            tollgate, "rewind", "membership", "--force", NATS_URL=nats_url
        )
        assert forced.returncode == 0, forced.stderr
        rewound = re.search(r"rewound to the start: (\d+) messages to replay", forced.stdout)
        assert rewound, forced.stdout
        replayed = int(rewound[1])
        assert replayed >= 3
        assert "membership replaying STRIPE" in forced.stdout
        assert f"membership on STRIPE: replay drained ({replayed} messages)" in forced.stdout
        assert await consumer_idle(js, "STRIPE", "membership")

    # The service stopped: its consumer is rewound without --force.
    again = await asyncio.to_thread(
        tollgate, "rewind", "membership", "--since", "2020-01-01", "--no-wait", NATS_URL=nats_url
    )
    assert again.returncode == 0, again.stderr
    assert (await js.consumer_info("STRIPE", "membership")).num_pending == replayed
