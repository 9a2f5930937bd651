"""Fault 3: Postgres stopped for a while, then started again: the ledger's own mid-stream, both
with requests arriving meanwhile, and the shared one while mails are in flight."""

import asyncio
import time
from typing import Any

import httpx

from faults.conftest import OWN_POSTGRES, SERVICES
from tollgate_shared.testing import unique, wait_until

DATABASE_SERVICES = [s for s in SERVICES if s != "webhook-gateway"]


async def test_one_services_postgres_unavailable_for_a_while(stack, workload) -> None:
    work = workload(12)
    await work.prepare()

    async def not_ready() -> bool:
        try:
            response = await stack.http.get(stack.service(OWN_POSTGRES) + "/readyz", timeout=5)
        except httpx.HTTPError:
            return False
        return response.status_code == 503

    async def database_down() -> None:
        await stack.own_postgres.stop()
        await stack.until(not_ready, message=f"{OWN_POSTGRES} reports its database down")

    async def database_back() -> None:
        await stack.own_postgres.start()

    third = work.stream_length // 3
    await work.run([(third, database_down), (third + 5, database_back)])
    await work.refund()
    await work.verify()


FAST = 5.0
"""The client's timeout while the databases are down: every answer must come before it (the
services give up on their database after a second or two, not after minutes)."""


async def test_every_service_answers_503_at_once_while_its_database_is_down(stack) -> None:
    group, user = unique("grp"), unique("usr")
    member = stack.bearer(user, email=f"{user}@members.test")
    organizer = stack.bearer(f"org-{group}", roles=["organizer"], groups=[group])
    routes = [
        ("checkout", "/tiers", {"group_id": group}, {}),
        ("membership", f"/entitlements/{user}/groups/{group}", {}, member),  # the gate
        ("membership", f"/entitlements/{user}", {}, member),
        ("ledger", f"/groups/{group}/summary", {}, organizer),
        ("notifications", "/notifications", {"user_id": user}, stack.admin),
    ]

    async def get(service: str, path: str, params: Any, headers: Any) -> httpx.Response:
        return await stack.http.get(
            stack.service(service) + path, params=params, headers=headers, timeout=FAST
        )

    for route in routes:
        assert (await get(*route)).status_code == 200, route

    await asyncio.gather(stack.postgres.stop(), stack.own_postgres.stop())
    try:
        for service in DATABASE_SERVICES:
            ready = await get(service, "/readyz", {}, {})
            assert ready.status_code == 503, (service, ready.text)
            assert ready.json()["checks"]["database"] is False, (service, ready.text)
        assert (await get("webhook-gateway", "/readyz", {}, {})).status_code == 200
        for route in routes:
            for _ in range(3):  # the pools' later answers too, not only the first failure
                response = await get(*route)
                assert response.status_code == 503, (route, response.text)
                assert response.json()["error"]["code"] == "unavailable", response.text
                assert int(response.headers["retry-after"]) > 0, response.headers
    finally:
        await asyncio.gather(stack.postgres.start(), stack.own_postgres.start())

    async def all_answer() -> bool:
        answers = await asyncio.gather(*(get(*route) for route in routes))
        ready = await asyncio.gather(*(get(s, "/readyz", {}, {}) for s in DATABASE_SERVICES))
        return all(r.status_code == 200 for r in [*answers, *ready])

    await stack.until(all_answer, message="every service answers again, without a restart")


LEASE = 1.0
"""Notifications' lease in the outage test (300 s in production): the leases of the mails in
flight lapse while the database is down, so a sender that leased them again would resend."""


async def test_mails_sent_while_the_database_is_down_are_not_sent_again(stack, workload) -> None:
    await stack.restart("notifications", MAIL_LEASE_SECONDS=str(LEASE), MAIL_TIMEOUT="60")
    log = stack.var_dir / "logs" / "notifications.log"
    try:
        work = workload(8)
        await work.prepare()
        # The mail server stalls mid-exchange, so that leased mails are in flight when the
        # database stops; it accepts them during the outage, when no outcome can be recorded.
        stack.smtp_proxy.hold()
        stalled = stack.smtp_proxy.stalled
        held = log.read_text(errors="replace").count("notification.outcome_held")
        await work.run()
        await stack.until(
            lambda: stack.smtp_proxy.stalled > stalled, message="mails leased and in flight"
        )
        in_flight_at = time.monotonic()
        mails = len(await stack.mails())
        await stack.postgres.stop()
        stack.smtp_proxy.release()

        async def sent_during_the_outage() -> bool:
            return len(await stack.mails()) > mails

        def outcomes_held() -> bool:
            return log.read_text(errors="replace").count("notification.outcome_held") > held

        await stack.until(sent_during_the_outage, message="mails accepted during the outage")
        await stack.until(outcomes_held, message="their outcomes held by the sender")
        await wait_until(
            lambda: time.monotonic() > in_flight_at + 2 * LEASE, message="their leases lapsed"
        )
        await stack.postgres.start()
        await work.refund()
        await work.verify()
    finally:
        stack.smtp_proxy.release()
        if stack.postgres.process is None:
            await stack.postgres.start()
        await stack.restart("notifications")
