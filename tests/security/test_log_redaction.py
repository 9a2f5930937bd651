"""No secret or card number reaches the logs: the real logging set-up of a service process
(`configure_logging`, JSON lines on stderr), fed with what an attacker or a careless call
would put there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tollgate_shared.infra.process import free_port
from tollgate_shared.observability.redaction import redact_text
from tollgate_shared.testing import wait_until
from tollgate_shared.web.auth import issue_token

CARD = "4242424242424242"
STRIPE_KEY = "sk_test_51SecretKeyThatMustNotLeak"
WEBHOOK_SECRET = "whsec_secret_that_must_not_leak_0123"
JWT = issue_token("a-secret-0123456789-0123456789-0123", sub="alice")
FORBIDDEN = ("sk_test_", "whsec_", JWT, JWT.split(".")[0], CARD, "4242 4242 4242 4242")

LOGGING_SCRIPT = f"""
import logging, structlog
from tollgate_shared.observability.logging import configure_logging
configure_logging("DEBUG", json=True, service="probe")
log = structlog.get_logger("probe")
log.info("checkout.started", authorization="Bearer {JWT}", user_id="alice")
log.warning("webhook.rejected", stripe_signature="t=1,v1={"a" * 64}", reason="mismatch")
log.info("stripe.call", api_key="{STRIPE_KEY}", body={{"card_number": "{CARD}", "amount": 2000}})
log.error("paid with {CARD[:4]} {CARD[4:8]} {CARD[8:12]} {CARD[12:]} using {STRIPE_KEY}")
log.info("settings", secret="{WEBHOOK_SECRET}", password="hunter2", nested=["token {JWT}"])
logging.getLogger("stdlib").warning("header was Bearer %s and key %s", "{JWT}", "{STRIPE_KEY}")
log.info("order.number", reference="4242424242424241", invoice="in_123")
"""


def assert_clean(output: str) -> None:
    leaked = [secret for secret in FORBIDDEN if secret in output]
    assert not leaked, f"leaked {leaked} in:\n{output}"


def test_the_logging_set_up_masks_secrets_and_cards() -> None:
    result = subprocess.run(
        [sys.executable, "-c", LOGGING_SCRIPT], capture_output=True, text=True, check=True
    )
    assert_clean(result.stdout + result.stderr)
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    events = {line["event"]: line for line in lines if "event" in line}
    assert events["checkout.started"]["user_id"] == "alice"
    assert events["checkout.started"]["authorization"] == "[redacted]"
    assert events["stripe.call"]["body"] == {"card_number": "[redacted]", "amount": 2000}
    # A 16-digit reference that is not a valid card number is left alone.
    assert events["order.number"]["reference"] == "4242424242424241"
    assert len(lines) == 7


CONFIGURED = "plain-configured-secret-without-a-known-shape-42"
FAILING_SCRIPT = f"""
import logging, structlog
from tollgate_shared.observability.logging import configure_logging
from tollgate_shared.infra.settings import ServiceSettings
settings = ServiceSettings(
    auth_jwt_secret="{CONFIGURED}",
    stripe_secret_key="{STRIPE_KEY}",
    smtp_url="smtp://mailer:{CONFIGURED}x@mail.example:587",
)
configure_logging("INFO", json=JSON, service="probe", secrets=settings.secret_values())
log = structlog.get_logger("probe")

def charge(settings, authorization):
    card = "{CARD}"
    raise RuntimeError(f"Stripe refused {{settings.stripe_secret_key}} with {{authorization}}")

try:
    charge(settings, "Bearer {JWT}")
except RuntimeError:
    log.exception("payment.failed")
logging.getLogger("stdlib").error("smtp login failed for %s", settings.smtp_url, exc_info=True)
raise ValueError(f"crashed holding {{settings!r}} and {CONFIGURED}")
"""


@pytest.mark.parametrize("json_logs", [True, False], ids=["json", "console"])
def test_tracebacks_show_no_locals_and_no_secret(json_logs: bool, tmp_path: Path) -> None:
    """A failure whose frames hold the settings and a token, and whose message names them, in
    both log modes: the traceback is printed (JSON lines too), with every secret masked."""
    script = tmp_path / "failing.py"
    script.write_text(FAILING_SCRIPT.replace("JSON", str(json_logs)))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert_clean(output)
    assert CONFIGURED not in output
    assert "mailer:" not in output, "a password in a URL is masked with its user name"
    assert "Traceback (most recent call last)" in output
    assert "raise RuntimeError(f" in output, "the failing line is shown"
    assert "settings = " not in output and "card = " not in output, "no local variables"
    assert "process.crashed" in output
    if json_logs:
        lines = [json.loads(line) for line in result.stderr.splitlines()]
        failed = next(line for line in lines if line["event"] == "payment.failed")
        assert "RuntimeError: Stripe refused [redacted] with [redacted]" in failed["exception"]
        assert [line["event"] for line in lines] == [
            "payment.failed",
            "smtp login failed for smtp://[redacted]@mail.example:587",
            "process.crashed",
        ]


def test_redact_text_keeps_ordinary_text() -> None:
    assert redact_text("invoice in_123 for 2000 cents, 3 items") == (
        "invoice in_123 for 2000 cents, 3 items"
    )
    assert redact_text(f"card {CARD}!") == "card [redacted]!"


@pytest.fixture
def gateway_process(nats_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The webhook gateway as `make run` starts it, with JSON logs to a file."""
    port = free_port()
    log_path = tmp_path / "gateway.log"
    env = os.environ | {
        "NATS_URL": nats_url,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_SECRET_KEY": STRIPE_KEY,
        "LOG_JSON": "true",
        "LOG_LEVEL": "DEBUG",
    }
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "webhook_gateway", "serve", "--port", str(port)],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        yield f"http://127.0.0.1:{port}", log_path
    finally:
        process.terminate()
        process.wait(timeout=30)


async def test_a_rejected_webhook_leaks_nothing(gateway_process: tuple[str, Path]) -> None:
    url, log_path = gateway_process

    async def up() -> bool:
        try:
            async with httpx.AsyncClient() as client:
                return (await client.get(f"{url}/healthz")).status_code == 200
        except httpx.TransportError:
            return False

    await wait_until(up, timeout=30, message="gateway up")
    body = json.dumps({"id": "evt_1", "card": CARD, "key": STRIPE_KEY, "jwt": JWT}).encode()
    headers = {
        "Stripe-Signature": f"t={int(time.time())},v1={'b' * 64}",
        "Authorization": f"Bearer {JWT}",
        "Content-Type": "application/json",
    }
    async with httpx.AsyncClient(base_url=url) as client:
        rejected = await client.post("/webhooks/stripe", content=body, headers=headers)
        malformed = await client.post("/webhooks/stripe", content=b"{", headers=headers)
    assert rejected.status_code == malformed.status_code == 400
    await wait_until(lambda: "webhook.rejected" in log_path.read_text(), message="logged")
    assert_clean(log_path.read_text())
