"""A group that wants a digest gets no mail per sale but one digest per period (a day; here
two seconds) listing the sales held until then, each sale once, with two instances of the
service running as processes on one database and one durable consumer."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from nats.js import JetStreamContext

from notifications.main import MIGRATIONS
from tollgate_shared.contracts.membership import MembershipActivated
from tollgate_shared.infra.provide import Infrastructure
from tollgate_shared.messaging.streams import DOMAIN
from tollgate_shared.testing import MailSink, consumer_idle, unique, wait_until

from .conftest import Harness, purchase, ready, service_process

SALES = 8


def _listed(digests: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """Every sale line of the digests (`- day · label · member · what · amount`): label,
    member, what, amount."""
    lines = [line[2:].split(" · ") for mail in digests for line in mail["text"].splitlines()]
    return [tuple(fields[1:]) for fields in lines if len(fields) == 5]


async def test_one_digest_per_group_and_period_lists_each_sale_once_with_two_instances(
    js: JetStreamContext,
    migrated_database: Callable[[Path], str],
    mail_sink: MailSink,
    infrastructure: Infrastructure,
    service_env: Callable[[str, str], dict[str, str]],
    harness: Harness,
) -> None:
    env = {
        **os.environ,
        **service_env(migrated_database(MIGRATIONS), mail_sink.smtp_url),
        "SALE_DIGEST_PERIOD_SECONDS": "2",
        "SALE_DIGEST_CHECK_INTERVAL": "0.1",
    }
    group, tier, item = unique("grp"), unique("tier"), unique("item")
    organizer, other = f"{unique('org')}@example.com", f"{unique('org')}@example.com"
    plain = unique("grp")  # a group that wants a mail per sale, beside it
    await harness.announce_group(
        group, name="Chess club", contact_email=organizer, sale_notice_digest=True
    )
    await harness.announce_group(plain, name="Go club", contact_email=other)
    await harness.announce_entry(group, tier, name="Supporter")
    await harness.announce_entry(group, item, name="Workshop seat", amount=2500)
    log = infrastructure.var_dir / "notifications-digest.log"
    instances = [service_process(env, log) for _ in range(2)]
    try:
        for _, base_url in instances:
            await wait_until(lambda u=base_url: ready(u), timeout=30, message="instance ready")
        await wait_until(  # the settings are applied before anything is sold
            lambda: consumer_idle(js, DOMAIN.name, env["NOTIFICATIONS_CONSUMER"]),
            timeout=30,
            message="the catalog applied",
        )
        buyers = [f"{unique('buyer')}@example.com" for _ in range(SALES)]
        for n, email in enumerate(buyers):
            user = unique("usr")
            if n % 2:
                sale: Any = MembershipActivated(
                    user_id=user, group_id=group, tier_id=tier, email=email, source="grant"
                )
            else:
                sale = purchase(group, item, user_id=user, email=email)
            await harness.publish(sale)
            await harness.publish(sale, msg_id=f"{sale.id}:again")
        await harness.publish(purchase(plain, unique("item"), amount=900))

        async def all_listed() -> list[dict[str, Any]] | None:
            digests = await harness.mail(organizer)
            members = {member for _, member, _, _ in _listed(digests)}
            return digests if members >= set(buyers) else None

        digests = await wait_until(all_listed, timeout=40, message="every sale in a digest")
        [single] = await harness.wait_for_mail(other, 1)
        base_url = instances[0][1]
        admin = Harness.bearer("adm", roles=["admin"])
        async with httpx.AsyncClient(base_url=base_url, headers=admin) as client:
            held = (await client.get("/notifications", params={"group_id": group})).json()
    finally:
        for server, _ in instances:
            server.stop()

    assert single["subject"] == "New sale in Go club: $9.00", single
    listed = _listed(digests)
    assert sorted(member for _, member, _, _ in listed) == sorted(buyers), listed
    for label, _, what, amount in listed:
        assert (label, what, amount) in {
            ("Purchase", "Workshop seat", "$25.00"),
            ("New member", "Supporter", "$20.00 (price)"),  # a grant: the tier's price
        }, (label, what, amount)
    assert all(m["subject"].startswith("Sales in Chess club on ") for m in digests), digests
    # One digest per period: each recorded once, and mailed once.
    items = held["items"]
    recorded = [n for n in items if n["kind"] == "sale_digest"]
    assert len(recorded) == len(digests) == len({n["source_id"] for n in recorded})
    assert {n["status"] for n in recorded} == {"sent"}
    # Each sale recorded once and held, never mailed alone.
    sales = [n for n in items if n["kind"] != "sale_digest"]
    assert len(sales) == SALES and {n["status"] for n in sales} == {"digested"}, sales
