"""The Stripe budget: one GCRA per account in NATS KV, shared by processes, background last."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import time

import httpx
import pytest
import stripe

from tollgate_shared.infra.settings import ServiceSettings
from tollgate_shared.infra.stripe_budget import (
    Priority,
    Rates,
    StripeBudget,
    StripeBusy,
    endpoint,
    prioritised,
    schedule,
)
from tollgate_shared.infra.stripe_client import make_stripe_client, stripe_rates
from tollgate_shared.testing import unique

RATES = Rates(per_second=10, per_endpoint=10, background_share=0.5)


def test_endpoints_are_path_templates() -> None:
    assert endpoint("get", "/v1/charges/ch_3MmlLrLkdIwHu7ix0snN0B15") == "GET /v1/charges/{id}"
    assert endpoint("POST", "/v1/checkout/sessions") == "POST /v1/checkout/sessions"
    assert endpoint("get", "/v1/invoice_payments?invoice=in_1") == "GET /v1/invoice_payments"
    assert (
        endpoint("POST", "/v1/payment_intents/pi_9a8b/confirm")
        == "POST /v1/payment_intents/{id}/confirm"
    )


def test_a_burst_of_one_second_then_the_rate() -> None:
    state: dict[str, float] = {}
    granted = [schedule(state, 100.0, "GET /x", RATES, Priority.INTERACTIVE) for _ in range(12)]
    assert granted[:10] == [0.0] * 10  # one second's worth at once
    assert all(wait > 0 for wait in granted[10:])
    assert schedule(state, 100.1, "GET /x", RATES, Priority.INTERACTIVE) == 0.0  # one more slot


def test_background_gets_only_its_share_of_the_burst() -> None:
    state: dict[str, float] = {}
    background = [schedule(state, 0.0, "GET /x", RATES, Priority.BACKGROUND) for _ in range(8)]
    assert background.count(0.0) == 5  # half a second's worth
    assert schedule(state, 0.0, "POST /y", RATES, Priority.INTERACTIVE) == 0.0  # still room


def test_each_endpoint_has_its_own_rate() -> None:
    rates = Rates(per_second=100, per_endpoint=2)
    state: dict[str, float] = {}
    waits = [schedule(state, 0.0, "GET /a", rates, Priority.INTERACTIVE) for _ in range(3)]
    assert waits[:2] == [0.0, 0.0] and waits[2] > 0
    assert schedule(state, 0.0, "GET /b", rates, Priority.INTERACTIVE) == 0.0


def test_rates_follow_the_key_and_the_api() -> None:
    assert stripe_rates(ServiceSettings(stripe_secret_key="sk_live_x")).per_second == 90  # type: ignore[union-attr]
    assert stripe_rates(ServiceSettings(stripe_secret_key="sk_test_x")).per_second == 22  # type: ignore[union-attr]
    assert stripe_rates(ServiceSettings(stripe_api_base="http://127.0.0.1:1")) is None
    emulated = ServiceSettings(stripe_api_base="http://127.0.0.1:1", stripe_rate_limit=50)
    assert stripe_rates(emulated).per_second == 50  # type: ignore[union-attr]
    assert stripe_rates(ServiceSettings(stripe_rate_limit=0)) is None


SPENDER = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from tollgate_shared.infra.stripe_budget import Priority, Rates, StripeBudget, prioritised

    async def main(url, key, until):
        budget = StripeBudget(key, Rates(per_second=20, per_endpoint=20), url, max_wait=60)
        granted = []
        with prioritised(Priority.INTERACTIVE):
            while time.time() < until:
                await budget.spend("GET", "/v1/charges/ch_1")
                granted.append(time.time())
        await budget.close()
        print(json.dumps(granted))

    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
    """
)


async def test_two_processes_share_one_rate(nats_url: str) -> None:
    key = unique("sk_test")
    begin = time.time() + 1.0  # both processes have connected by then
    until = begin + 3.0
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            f"import time; time.sleep(max(0, {begin} - time.time()))\n" + SPENDER,
            nats_url,
            key,
            str(until),
            stdout=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outputs = [json.loads((await p.communicate())[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    # 20/s from a full bucket of one second: at most 20 + 20 * 3 s in the window, however
    # the two processes raced; each of them was granted some.
    within = [t for granted in outputs for t in granted if begin <= t <= until]
    assert all(len(granted) > 5 for granted in outputs), [len(g) for g in outputs]
    assert len(within) <= 20 + 20 * 3 + 1, len(within)
    assert len(within) >= 20 * 3 * 0.8, len(within)  # and the rate was used, not starved


async def test_background_is_refused_while_interactive_requests_wait(nats_url: str) -> None:
    budget = StripeBudget(unique("sk_test"), RATES, nats_url, max_wait=5)
    with prioritised(Priority.INTERACTIVE):
        for _ in range(10):
            await budget.spend("POST", "/v1/checkout/sessions")
    with prioritised(Priority.POSTPONABLE), pytest.raises(StripeBusy) as busy:
        await budget.spend("GET", "/v1/charges/ch_1")  # a consumer's: postponed, not waiting
    assert busy.value.retry_after > 0
    with prioritised(Priority.INTERACTIVE):
        await budget.spend("POST", "/v1/checkout/sessions")  # waits for its slot instead
    await budget.close()


async def test_without_nats_each_process_keeps_the_budget_alone() -> None:
    budget = StripeBudget(unique("sk_test"), RATES, "nats://127.0.0.1:1", max_wait=0)
    for _ in range(5):
        await budget.spend("GET", "/v1/charges/ch_1")
    with pytest.raises(StripeBusy):
        await budget.spend("GET", "/v1/charges/ch_1")


async def test_the_client_spends_the_budget_before_each_request(
    stripe_emulator_url: str, nats_url: str
) -> None:
    settings = ServiceSettings(
        stripe_api_base=stripe_emulator_url,
        stripe_secret_key=unique("sk_test"),
        stripe_rate_limit=3,
        stripe_background_share=1.0,
        nats_url=nats_url,
    )
    client = make_stripe_client(settings)
    async with httpx.AsyncClient() as http:
        before = (await http.get(f"{stripe_emulator_url}/_emulator/usage")).json()["requests"]
        for _ in range(3):
            await client.v1.customers.list_async()
        with prioritised(Priority.POSTPONABLE), pytest.raises(StripeBusy):
            await client.v1.customers.list_async()  # a consumer's: not sent, postponed
        after = (await http.get(f"{stripe_emulator_url}/_emulator/usage")).json()["requests"]
    assert after - before == 3
    with pytest.raises(stripe.StripeError):
        await client.v1.customers.retrieve_async("cus_missing")  # waits for a slot, then asks
