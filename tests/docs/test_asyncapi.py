"""The services' AsyncAPI documents: generated from their brokers, served by each service, and
kept in docs/asyncapi/ (regenerate with `make asyncapi`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from tollgate_shared.messaging.asyncapi import render

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "asyncapi"
SERVICES = ("webhook-gateway", "checkout", "membership", "ledger", "notifications")
# As in the Makefile's `asyncapi` target: the documents do not depend on where they are made.
CANONICAL = {
    "NATS_URL": "nats://localhost:4222",
    "DATABASE_URL": "postgresql://tollgate@localhost:5432/tollgate",
}


def generated(service: str) -> str:
    bin_dir = Path(sys.executable).parent
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/"), **CANONICAL}
    done = subprocess.run(
        [str(bin_dir / service), "asyncapi"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


@pytest.mark.parametrize("service", SERVICES)
def test_the_kept_document_is_current(service: str) -> None:
    kept = DOCS / f"{service}.json"
    assert kept.exists(), f"{kept} is missing: run `make asyncapi`"
    assert generated(service) == kept.read_text(), f"{kept} is stale: run `make asyncapi`"


def document(service: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DOCS / f"{service}.json").read_text())
    return loaded


def operations(doc: dict[str, Any], action: str) -> set[str]:
    """The addresses of the channels the document's operations of `action` use."""
    channels = doc["channels"]
    return {
        channels[unquote(op["channel"]["$ref"].rsplit("/", 1)[1])]["address"]
        for op in doc["operations"].values()
        if op["action"] == action
    }


def test_consumers_receive_each_subject_their_handlers_take() -> None:
    ledger = document("ledger")
    received = operations(ledger, "receive")
    assert {"stripe.invoice.paid", "stripe.charge.refunded", "stripe.payout.paid"} <= received
    assert all(s.startswith("stripe.") for s in received - {"checkout.group.settings_changed"})
    assert "checkout.group.settings_changed" in received  # groups' names and thresholds
    notifications = operations(document("notifications"), "receive")
    assert {"membership.activated", "ledger.payment_recorded"} <= notifications


def test_publishers_send_domain_events_stripe_events_and_dead_letters() -> None:
    assert operations(document("webhook-gateway"), "send") == {"stripe.>"}
    assert operations(document("webhook-gateway"), "receive") == set()
    sent = operations(document("membership"), "send")
    assert {"membership.activated", "membership.expired", "dlq.membership.>"} <= sent
    assert not any(s.startswith(("ledger.", "checkout.")) for s in sent)


def test_payloads_are_the_event_contracts() -> None:
    messages = document("membership")["components"]["messages"]
    activated = next(m for name, m in messages.items() if name.startswith("membership.activated"))
    schemas = document("membership")["components"]["schemas"]
    ref = activated["payload"]["$ref"].rsplit("/", 1)[1]
    assert {"user_id", "group_id", "type", "id", "occurred_at"} <= set(schemas[ref]["properties"])


async def test_each_service_serves_its_document(monkeypatch: pytest.MonkeyPatch) -> None:
    from membership.config import load_settings
    from membership.main import create_app

    for name, value in CANONICAL.items():
        monkeypatch.setenv(name, value)
    app = create_app(load_settings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://m") as http:
        response = await http.get("/asyncapi.json")
    assert response.status_code == 200
    assert render(response.json()) == (DOCS / "membership.json").read_text()
