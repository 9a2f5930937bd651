"""`tollgate dlq`, `consumers` and `rewind` against a real JetStream."""

import subprocess
import sys

from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig

from tollgate_shared.messaging import dlq
from tollgate_shared.messaging.publish import publish_with_ack
from tollgate_shared.testing import unique


def tollgate(nats_url: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "tollgate_cli", "dlq", "--nats-url", nats_url, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"COLUMNS": "250", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


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
    listing = tollgate(nats_url, "list", "--service", service)
    assert original in listing and "unknown tier" in listing
    assert original in tollgate(nats_url, "show", str(ack.seq))

    assert "drop: 1 done" in tollgate(nats_url, "drop", "--service", service)
    assert [letter async for letter in dlq.iterate(js, service=service)] == []


async def test_consumers_and_rewind(nats_url: str, js: JetStreamContext) -> None:
    durable = unique("svc")
    subject = f"stripe.{unique('t')}"
    await publish_with_ack(js, subject, b"{}", msg_id=unique("e"), stream="STRIPE")
    await js.add_consumer("STRIPE", ConsumerConfig(durable_name=durable, filter_subject=subject))
    sub = await js.pull_subscribe(subject, durable=durable, stream="STRIPE")
    [msg] = await sub.fetch(1, timeout=5)
    await msg.ack_sync()
    await sub.unsubscribe()
    run = lambda *args: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "tollgate_cli", *args, "--nats-url", nats_url],
        capture_output=True,
        text=True,
        timeout=60,
        env={"COLUMNS": "250", "PATH": "/usr/bin:/bin"},
    )
    assert durable in run("consumers").stdout
    rewound = run("rewind", durable, "--stream", "STRIPE", "--sequence", "1")
    assert rewound.returncode == 0, rewound.stderr
    info = await js.consumer_info("STRIPE", durable)
    assert info.num_pending >= 1
