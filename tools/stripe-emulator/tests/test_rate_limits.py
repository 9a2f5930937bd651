"""Stripe's rate limits through the official SDK: a burst beyond an account's or an endpoint's
rate gets `stripe.RateLimitError`. The limiter's clock is frozen, so a burst's counts do not
depend on how fast the machine sends it."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import stripe

from stripe_emulator.settings import Settings
from stripe_emulator.testing import RunningEmulator, free_port, serve

API_KEY = "sk_test_rate_limits"


@dataclass
class Clock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Limited:
    running: RunningEmulator
    client: stripe.StripeClient
    clock: Clock

    def burst(self, call: Callable[[], object], count: int) -> tuple[int, int]:
        """`count` calls at one instant: (accepted, refused with a 429)."""
        accepted = refused = 0
        for _ in range(count):
            try:
                call()
                accepted += 1
            except stripe.RateLimitError:
                refused += 1
            except stripe.InvalidRequestError:  # a 404 still went through the limiter
                accepted += 1
        return accepted, refused

    def usage(self) -> dict[str, object]:
        answer = self.running.http.get("/_emulator/usage")
        answer.raise_for_status()
        usage: dict[str, object] = answer.json()
        return usage


@contextmanager
def emulator_with(rate_limits: str) -> Iterator[Limited]:
    with serve(Settings(port=free_port(), rate_limits=rate_limits)) as running:
        clock = Clock()
        running.emulator.limiter.clock = clock
        client = stripe.StripeClient(
            API_KEY, base_addresses={"api": running.base_url}, max_network_retries=0
        )
        yield Limited(running, client, clock)


@contextmanager
def switchable() -> Iterator[Limited]:
    """An emulator with its test controls, no limits until switched on at runtime."""
    with serve(Settings(port=free_port(), test_mode=True)) as running:
        clock = running.emulator.limiter.clock = Clock()
        client = stripe.StripeClient(
            API_KEY, base_addresses={"api": running.base_url}, max_network_retries=0
        )
        yield Limited(running, client, clock)


@pytest.fixture
def live() -> Iterator[Limited]:
    with emulator_with("live") as limited:
        yield limited


def test_a_burst_beyond_an_endpoints_rate_is_refused_like_stripe(live: Limited) -> None:
    assert live.burst(live.client.v1.customers.list, 40) == (25, 15)

    with pytest.raises(stripe.RateLimitError) as refused:
        live.client.v1.customers.list()
    assert refused.value.http_status == 429
    assert refused.value.error is not None
    assert refused.value.error.code == "rate_limit"
    assert refused.value.error.type == "invalid_request_error"
    assert refused.value.headers is not None
    assert refused.value.headers["stripe-should-retry"] == "true"
    assert refused.value.headers["request-id"].startswith("req_")


def test_requests_within_the_rate_pass(live: Limited) -> None:
    accepted = 0
    for _ in range(100):
        live.clock.now += 1 / 25
        accepted += live.burst(live.client.v1.customers.list, 1)[0]
    assert accepted == 100

    live.burst(live.client.v1.customers.list, 25)
    live.clock.now += 1.0
    assert live.burst(live.client.v1.customers.list, 30) == (25, 5)


def test_the_endpoint_limit_applies_below_the_account_limit(live: Limited) -> None:
    lists = [
        live.client.v1.customers.list,
        live.client.v1.products.list,
        live.client.v1.prices.list,
        live.client.v1.coupons.list,
        live.client.v1.charges.list,
    ]
    assert [live.burst(call, 30) for call in lists] == [(25, 5)] * 4 + [(0, 30)]
    assert live.usage() == {"rate_limits": "live", "requests": 150, "rate_limited": 50}


def test_one_endpoint_is_one_limit_whatever_the_id(live: Limited) -> None:
    ids = iter(f"cus_missing{i}" for i in range(30))
    assert live.burst(lambda: live.client.v1.customers.retrieve(next(ids)), 30) == (25, 5)
    assert live.burst(live.client.v1.customers.list, 30) == (25, 5)


def test_test_mode_allows_an_account_25_requests_a_second() -> None:
    with emulator_with("test") as limited:
        assert limited.burst(limited.client.v1.customers.list, 30) == (25, 5)
        assert limited.burst(limited.client.v1.products.list, 30) == (0, 30)


def test_off_never_limits() -> None:
    with emulator_with("off") as limited:
        assert limited.burst(limited.client.v1.customers.list, 200) == (200, 0)
        assert limited.usage() == {"rate_limits": "off", "requests": 200, "rate_limited": 0}


def test_usage_tells_api_keys_apart_per_endpoint() -> None:
    with emulator_with("off") as limited:
        other = stripe.StripeClient(
            "sk_test_another_app",
            base_addresses={"api": limited.running.base_url},
            max_network_retries=0,
        )
        limited.burst(limited.client.v1.customers.list, 2)
        limited.burst(lambda: limited.client.v1.customers.retrieve("cus_missing"), 1)
        other.v1.products.list()
        answer = limited.running.http.get("/_emulator/usage", params={"api_key": API_KEY})
        assert answer.json() == {
            "rate_limits": "off",
            "requests": 3,
            "rate_limited": 0,
            "endpoints": {"GET /v1/customers": 2, "GET /v1/customers/{id}": 1},
            "endpoints_rate_limited": {},
        }
        assert limited.usage()["requests"] == 4
        unused = limited.running.http.get("/_emulator/usage", params={"api_key": "sk_test_x"})
        assert unused.json()["requests"] == 0 and unused.json()["endpoints"] == {}


def test_limits_switched_at_runtime_apply_from_then_on() -> None:
    with switchable() as limited:
        running, client = limited.running, limited.client
        assert limited.burst(client.v1.customers.list, 40) == (40, 0)

        assert running.control("POST", "/rate_limits", json={"mode": "live"}) == {
            "rate_limits": "live"
        }
        assert limited.burst(client.v1.customers.list, 40) == (25, 15)
        usage = running.control("GET", "/usage", params={"api_key": API_KEY})
        assert usage["rate_limits"] == "live"
        assert (usage["requests"], usage["rate_limited"]) == (80, 15)
        assert usage["endpoints"] == {"GET /v1/customers": 80}
        assert usage["endpoints_rate_limited"] == {"GET /v1/customers": 15}

        running.control("POST", "/rate_limits", json={"mode": "off"})
        assert limited.burst(client.v1.customers.list, 40) == (40, 0)
        refused = running.http.post("/_emulator/rate_limits", json={"mode": "fast"})
        assert refused.status_code == 422
        assert running.control("GET", "/usage")["rate_limits"] == "off"


def test_a_storm_refuses_every_request_until_switched_off() -> None:
    with switchable() as limited:
        running, client = limited.running, limited.client
        other = stripe.StripeClient(
            "sk_test_harness", base_addresses={"api": running.base_url}, max_network_retries=0
        )
        storm = {"mode": "storm", "api_key": API_KEY}
        assert running.control("POST", "/rate_limits", json=storm) == {"rate_limits": "off"}
        assert limited.burst(client.v1.customers.list, 5) == (0, 5)
        limited.clock.now += 60  # however long it lasts
        assert limited.burst(client.v1.products.list, 5) == (0, 5)
        assert limited.burst(other.v1.customers.list, 5) == (5, 0)  # another key's go through
        running.control("POST", "/rate_limits", json={"mode": "storm"})
        assert limited.burst(other.v1.customers.list, 5) == (0, 5)
        running.control("POST", "/rate_limits", json={"mode": "off"})
        assert limited.burst(client.v1.customers.list, 5) == (5, 0)
