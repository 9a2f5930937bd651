"""Starting the emulator as a program, and its controls' gate."""

import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
import stripe

from stripe_emulator.settings import Settings
from stripe_emulator.testing import WebhookReceiver, free_port, receive_webhooks, serve, wait_for

SECRET = "whsec_given_on_the_command_line"


@pytest.fixture
def program_receiver() -> Iterator[WebhookReceiver]:
    with receive_webhooks() as receiver:
        yield receiver


def test_module_starts_with_webhook_flag_and_signs_with_that_secret(
    program_receiver: WebhookReceiver,
) -> None:
    port = free_port()
    env = {**os.environ, "STRIPE_EMULATOR_TEST_MODE": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stripe_emulator",
            "--port",
            str(port),
            "--webhook",
            f"{program_receiver.url}={SECRET}",
        ],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert f"listening on http://127.0.0.1:{port}" in process.stdout.readline()
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _healthy(base), what="the program to answer")
        client = stripe.StripeClient(
            "sk_test_x", base_addresses={"api": base}, max_network_retries=0
        )
        client.v1.customers.create({"email": "cli@example.com"})
        got = wait_for(program_receiver.snapshot, what="a delivery")
        event = stripe.Webhook.construct_event(got[0].body, got[0].signature, SECRET)
        assert event.type == "customer.created"
        assert httpx.post(f"{base}/_emulator/reset").json() == {"reset": True}
    finally:
        process.terminate()
        process.wait(timeout=10)


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz").status_code == 200
    except httpx.TransportError:
        return False


def test_controls_are_absent_outside_test_mode() -> None:
    with serve(Settings(port=free_port())) as running:
        assert running.http.get("/_emulator/events").status_code == 404
        assert running.http.post("/_emulator/reset").status_code == 404
