"""The shared Stripe client talks to the emulator through the real SDK, idempotently."""

import httpx

from tollgate_shared.infra.settings import ServiceSettings
from tollgate_shared.infra.stripe_client import idempotency_key, make_stripe_client
from tollgate_shared.testing import unique


async def test_creates_once_per_idempotency_key(stripe_emulator_url: str) -> None:
    client = make_stripe_client(ServiceSettings(stripe_api_base=stripe_emulator_url))
    key = idempotency_key("customer", unique("user"))
    first = await client.v1.customers.create_async(
        {"email": "a@example.com"}, {"idempotency_key": key}
    )
    again = await client.v1.customers.create_async(
        {"email": "a@example.com"}, {"idempotency_key": key}
    )
    assert first.id == again.id
    assert first.id.startswith("cus_")
    async with httpx.AsyncClient() as http:
        counts = (await http.get(f"{stripe_emulator_url}/_emulator/requests")).json()
    assert any(r["path"] == "/v1/customers" and r["count"] >= 2 for r in counts)


def test_idempotency_keys_are_stable_and_distinct() -> None:
    assert idempotency_key("cancel", "sub_1", "sub_2") == idempotency_key(
        "cancel", "sub_1", "sub_2"
    )
    assert idempotency_key("cancel", "sub_1", "sub_2") != idempotency_key(
        "cancel", "sub_2", "sub_1"
    )
    assert idempotency_key("cancel", "a") != idempotency_key("refund", "a")
