"""`tollgate run` brings the platform up as separate processes, carries a Stripe event from the
emulator through the gateway to a consumer, and stops everything on Ctrl-C."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import nats
import pytest
import stripe

from tollgate_cli.stack import EMULATOR_PORT, NATS_PORT, SERVICES
from tollgate_shared.infra.process import port_open
from tollgate_shared.testing import wait_until

OFFSET = 30000 + (os.getpid() % 500) * 10


@pytest.fixture
def stack(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k not in {"NATS_URL", "DATABASE_URL"}}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tollgate_cli",
            "run",
            "--var-dir",
            str(tmp_path),
            "--port-offset",
            str(OFFSET),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        lines.append(line)
        if line.startswith("Ctrl-C stops everything"):
            break
    assert any("Tollgate is up" in line for line in lines), "".join(lines)
    yield proc, "".join(lines)
    if proc.poll() is None:
        proc.kill()
        proc.wait()


async def test_run_serves_an_event_end_to_end_and_stops_cleanly(stack) -> None:
    proc, banner = stack
    gateway = f"http://127.0.0.1:{SERVICES[0].port + OFFSET}"
    emulator = f"http://127.0.0.1:{EMULATOR_PORT + OFFSET}"
    assert gateway in banner and "Admin token" in banner
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{gateway}/healthz")).json() == {"status": "ok"}

        client = stripe.StripeClient("sk_test_tollgate_dev", base_addresses={"api": emulator})
        product = client.v1.products.create({"name": "Supporter"})
        price = client.v1.prices.create(
            {
                "product": product.id,
                "unit_amount": 500,
                "currency": "nzd",
                "recurring": {"interval": "month"},
            }
        )
        session = client.v1.checkout.sessions.create(
            {
                "mode": "subscription",
                "line_items": [{"price": price.id, "quantity": 1}],
                "success_url": "http://127.0.0.1/ok",
                "metadata": {"user_id": "u1", "group_id": "g1", "purpose": "membership"},
            }
        )
        done = await http.post(
            f"{emulator}/_emulator/checkout/sessions/{session.id}/complete",
            json={"card_number": "4242424242424242"},
        )
        assert done.json()["outcome"] == "paid"

    nc = await nats.connect(f"nats://127.0.0.1:{NATS_PORT + OFFSET}")
    js = nc.jetstream()
    try:
        stored = await wait_until(
            lambda: _last(js, "stripe.checkout.session.completed"), timeout=30, message="stored"
        )
        assert session.id in stored.data.decode()

        async def consumed() -> bool:
            info = await js.consumer_info("STRIPE", "membership")
            return (
                info.num_pending == 0
                and info.num_ack_pending == 0
                and info.delivered.stream_seq > 0
            )

        await wait_until(consumed, timeout=30, message="membership consumed the events")
    finally:
        await nc.close()

    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0
    for port in (SERVICES[0].port, EMULATOR_PORT, NATS_PORT):
        assert not port_open("127.0.0.1", port + OFFSET)


async def _last(js, subject: str):
    try:
        return await js.get_last_msg("STRIPE", subject)
    except nats.js.errors.NotFoundError:
        return None
