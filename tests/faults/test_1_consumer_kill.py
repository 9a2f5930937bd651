"""Fault 1: each consumer service (then the webhook gateway) SIGKILLed in turn in the middle
of a stream, then restarted."""

import psycopg
from sqlalchemy.engine import make_url

from faults.conftest import Stack, Step
from tollgate_shared.infra.settings import database_name
from tollgate_shared.testing import wait_until

VICTIMS = ("membership", "ledger", "notifications", "checkout", "webhook-gateway")


async def test_sigkill_each_service_in_turn_mid_stream(stack, workload) -> None:
    work = workload(15)
    await work.prepare()

    def kill(name: str) -> Step:
        async def fault() -> None:
            if name == "notifications":
                await _kill_outside_the_smtp_window(stack, name)
            else:
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


async def _kill_outside_the_smtp_window(stack: Stack, name: str) -> None:
    """SIGKILL the notifications process `name` outside the window its README documents: from
    leasing a mail (`sending`) to recording the outcome, a kill re-sends the mail if the SMTP
    server had accepted it, and either way leaves it until its lease lapses (5 minutes, beyond
    the test's wait). SMTP refuses new connections; then the notifications table is locked
    against writes, so that no mail can be leased, and the process is killed under that lock
    once no SMTP connection is open and no mail is `sending`. Looked at without the lock, a
    mail could be leased between the look and the kill."""
    stack.smtp_proxy.cut(abort_open=False)
    url = make_url(stack.postgres.url).set(database=database_name("notifications"))
    async with await psycopg.AsyncConnection.connect(
        url.render_as_string(hide_password=False)
    ) as conn:

        async def locked_with_nothing_in_flight() -> bool:
            await conn.execute("LOCK TABLE notifications IN SHARE MODE")
            cursor = await conn.execute(
                "SELECT EXISTS (SELECT FROM notifications WHERE status = 'sending')"
            )
            leased = await cursor.fetchone()
            if not stack.smtp_proxy.open_connections and not (leased and leased[0]):
                return True
            await conn.rollback()
            return False

        await wait_until(
            locked_with_nothing_in_flight, timeout=30, interval=0.05, message="no mail in flight"
        )
        await stack.kill(name)
