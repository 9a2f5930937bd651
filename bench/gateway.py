"""The gateway under load: signed events of realistic size, one gateway process."""

from __future__ import annotations

import json
import os
import random
import sys
import uuid
from pathlib import Path

import stripe

from bench.events import envelope
from bench.load import build_post, run_load
from tollgate_shared.infra.process import ServerProcess, free_port

SECRET = "whsec_bench_0123456789"


def signed_event(size: int) -> tuple[bytes, dict[str, str]]:
    """A Stripe-shaped invoice.paid event padded to about `size` bytes, freshly signed."""
    invoice = {
        "id": f"in_{uuid.uuid4().hex}",
        "object": "invoice",
        "amount_paid": 2000,
        "currency": "nzd",
        "lines": {"data": []},
    }
    event = envelope("invoice.paid", invoice)
    invoice["description"] = "x" * max(0, size - len(json.dumps(event)))
    body = json.dumps(event).encode()
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), SECRET)
    return body, {"Stripe-Signature": header, "Content-Type": "application/json"}


def start_gateway(
    nats_url: str, var_dir: Path, *, extra_args: list[str] | None = None
) -> tuple[ServerProcess, str]:
    port = free_port()
    env = dict(os.environ, NATS_URL=nats_url, STRIPE_WEBHOOK_SECRET=SECRET, LOG_LEVEL="WARNING")
    process = ServerProcess(
        "webhook-gateway",
        [
            sys.executable,
            "-m",
            "webhook_gateway",
            "serve",
            "--port",
            str(port),
            *(extra_args or []),
        ],
        log_path=var_dir / "bench-gateway.log",
        env=env,
    )
    process.wait_for_port("127.0.0.1", port)
    return process, f"http://127.0.0.1:{port}/webhooks/stripe"


async def gateway_load(
    url: str, levels: tuple[int, ...], per_level: int
) -> list[dict[str, object]]:
    """Events/s and latency percentiles at each concurrency level."""
    results = []
    for concurrency in levels:
        total = per_level if concurrency > 1 else per_level // 4
        requests = []
        for _ in range(total):
            body, headers = signed_event(random.randint(2048, 4096))
            requests.append(build_post(url, body, headers))
        result = await run_load(url, requests, total=total, concurrency=concurrency)
        results.append(result.summary())
    return results
