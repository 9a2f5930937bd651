"""Fault 5: the SMTP server, then Stripe's API, unreachable for a while mid-stream."""

from faults.conftest import Proxy, Stack, Step


def outage(stack: Stack, proxy: Proxy, *, abort_open: bool) -> tuple[Step, Step]:
    """A pair of faults: cut `proxy` (and wait until a service has been refused by it),
    then restore it."""
    refused_before = 0

    async def down() -> None:
        nonlocal refused_before
        refused_before = proxy.refused
        proxy.cut(abort_open=abort_open)

    async def back() -> None:
        async def felt() -> bool:
            return proxy.refused > refused_before

        await stack.until(felt, message=f"a service refused by the {proxy.name} outage")
        proxy.restore()

    return down, back


async def test_smtp_then_stripe_failing_transiently(stack, workload) -> None:
    work = workload(12)
    await work.prepare()
    # SMTP: new connections refused (sessions already open finish, as when a mail server
    # stops accepting); Stripe: every connection reset, pooled keep-alive ones included.
    smtp_down, smtp_back = outage(stack, stack.smtp_proxy, abort_open=False)
    stripe_down, stripe_back = outage(stack, stack.stripe_proxy, abort_open=True)
    # One after the other, each for five steps of the stream (of about twenty).
    await work.run([(2, smtp_down), (7, smtp_back), (9, stripe_down), (14, stripe_back)])
    await work.refund()
    await work.verify()
