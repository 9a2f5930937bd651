"""`tollgate dlq` against a real JetStream."""

import subprocess
import sys

from nats.js import JetStreamContext

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
