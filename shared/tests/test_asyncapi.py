"""The AsyncAPI document names its servers without their credentials."""

from __future__ import annotations

import json

from tollgate_shared.messaging import channels
from tollgate_shared.messaging.asyncapi import document
from tollgate_shared.messaging.broker import make_broker


def test_server_urls_carry_no_credentials() -> None:
    broker = make_broker("nats://tollgate:s3cret-password@nats.internal:4222", name="probe")
    channels.stripe_events(broker)
    doc = document(broker, title="probe", description="probe")
    text = json.dumps(doc)
    assert "s3cret-password" not in text
    assert "tollgate:" not in text
    assert [server["host"] for server in doc["servers"].values()] == ["nats.internal:4222"]
    assert [c["address"] for c in doc["channels"].values()] == ["stripe.>"]
