"""Fault 1: each consumer service (then the webhook gateway) SIGKILLed in turn in the middle
of a stream, then restarted."""

from faults.conftest import Stack, Step
from tollgate_shared.testing import wait_until

VICTIMS = ("membership", "ledger", "notifications", "checkout", "webhook-gateway")


async def test_sigkill_each_service_in_turn_mid_stream(stack, workload) -> None:
    work = workload(15)
    await work.prepare()

    def kill(name: str) -> Step:
        async def fault() -> None:
            if name == "notifications":
                await _outside_the_smtp_window(stack)
            await stack.kill(name)

        return fault

    def restart(name: str) -> Step:
        async def recovery() -> None:
            await stack.start_services(name)
            if name == "notifications":
                stack.smtp_proxy.restore()

        return recovery

    # Kills spread over the stream; each service stays down for three steps while the stream
    # (payments, renewals, tier switches at Stripe) goes on without it.
    gap = work.stream_length // (len(VICTIMS) + 1)
    faults = []
    for i, name in enumerate(VICTIMS, start=1):
        faults += [(i * gap, kill(name)), (i * gap + 3, restart(name))]
    await work.run(faults)
    await work.refund()
    await work.verify()


async def _outside_the_smtp_window(stack: Stack) -> None:
    """notifications' README documents one window where a kill re-sends a mail (with the same
    Message-ID): after the SMTP server accepted it, before the outcome is committed. The kill
    is placed outside it: SMTP refuses new connections, and no mail is left in `sending`."""
    stack.smtp_proxy.cut(abort_open=False)

    async def nothing_in_flight() -> bool:
        if stack.smtp_proxy.open_connections:
            return False
        found = await stack.call(
            "GET",
            "notifications",
            "/notifications",
            headers=stack.admin,
            params={"status": "sending", "limit": 1},
        )
        return not found["items"]

    await wait_until(nothing_in_flight, timeout=30, interval=0.05, message="no mail in flight")
