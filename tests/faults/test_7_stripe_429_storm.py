"""Fault 7: Stripe answers every request of the services' account 429 for the whole stream
(as when the account is far over its rate limit); every event is postponed, never failed or
parked, and applied exactly once when Stripe answers again."""

from collections import Counter

from faults.conftest import SERVICES_STRIPE_KEY, Stack

STATEFUL = ("checkout", "membership", "ledger", "notifications")


async def outcomes(stack: Stack) -> Counter[str]:
    """Deliveries finished per outcome, all consumers of the stateful services together."""
    total: Counter[str] = Counter()
    for service in STATEFUL:
        for (_, _, outcome), n in (await stack.consumed(service)).items():
            total[outcome] += n
    return total


async def rate_limit(stack: Stack, mode: str) -> None:
    await stack.control("/rate_limits", {"mode": mode, "api_key": SERVICES_STRIPE_KEY})


async def test_a_429_storm_postpones_every_event_then_applies_each_once(stack, workload) -> None:
    work = workload(12)
    await work.prepare()
    before = await outcomes(stack)
    refused = (await stack.http.get(f"{stack.emulator}/_emulator/usage")).json()["rate_limited"]

    async def storm() -> None:
        await rate_limit(stack, "storm")

    await work.run([(0, storm)])

    async def postponed() -> bool:
        return (await outcomes(stack))["deferred"] > before["deferred"]

    # The switches' cancellations of superseded subscriptions meet the storm.
    await stack.until(postponed, message="a consumer postponed a message")
    usage = (await stack.http.get(f"{stack.emulator}/_emulator/usage")).json()
    assert usage["rate_limited"] > refused
    await rate_limit(stack, "off")

    await work.refund()
    await work.verify()  # exactly once, nothing parked, each switch cancelled once
    after = await outcomes(stack)
    assert after["dead_lettered"] == before["dead_lettered"]
    assert after["retried"] == before["retried"], "a 429 was counted as a failure"
