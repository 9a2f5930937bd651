"""Payouts by themselves, across processes: two ledger processes run the schedule task on one
database; a schedule that comes due is requested once, approved below the group's threshold
(checkout's `checkout.group.settings_changed`), transferred once at the Stripe emulator and
announced once on DOMAIN; above the threshold the request waits for an admin, whose rejection
records when it was decided and is announced once."""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext
from sqlalchemy import select, text

from ledger.adapters import orm
from ledger.config import Settings
from tollgate_shared.contracts.checkout import GroupSettingsChanged
from tollgate_shared.infra.process import ServerProcess, free_port
from tollgate_shared.messaging.streams import DOMAIN, STRIPE
from tollgate_shared.testing import (
    StripeWorld,
    consumer_idle,
    publish_domain_event,
    sessions_on,
    unique,
    wait_until,
)

from .conftest import SECRET, auth, browser, funded_group, sign_in, token

MAIN = "from ledger.main import main; main()"
GROUPS = 4
"""Groups whose schedules come due at once, for the two processes to take from each other."""


class Replica:
    """A `ledger serve` process on the tests' database, NATS and emulator."""

    def __init__(self, name: str, settings: Settings, logs: Path) -> None:
        self.port = free_port()
        self.log = logs / f"{name}.log"
        env = {
            **os.environ,
            "NATS_URL": settings.nats_url,
            "LEDGER_DATABASE_URL": str(settings.service_database_url),
            "STRIPE_API_BASE": str(settings.stripe_api_base),
            "AUTH_JWT_SECRET": SECRET,
            "LEDGER_FEE_INTERVAL_SECONDS": "0.2",
            "LEDGER_PAYOUT_SCHEDULE_INTERVAL_SECONDS": "0.2",
            "LOG_JSON": "true",
        }
        argv = [sys.executable, "-c", MAIN, "serve", "--port", str(self.port)]
        self.process = ServerProcess(name, argv, log_path=self.log, env=env)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def ready(self, http: httpx.AsyncClient) -> bool:
        if self.process.proc.poll() is not None:
            raise AssertionError(f"{self.process.name} exited:\n{self.process.log_tail(40)}")
        try:
            return (await http.get(self.url + "/readyz", timeout=2)).status_code == 200
        except httpx.HTTPError:
            return False

    def logged(self, event: str) -> list[dict[str, Any]]:
        """The JSON log lines of `event` it wrote."""
        lines = [
            line for line in self.log.read_text(errors="replace").splitlines() if event in line
        ]
        return [entry for entry in map(_json, lines) if entry.get("event") == event]


def _json(line: str) -> dict[str, Any]:
    try:
        found = json.loads(line)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


@pytest.fixture(scope="module")
async def replicas(
    settings: Settings, ledger: httpx.AsyncClient, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[list[Replica]]:
    """Two ledger processes running the schedule task every 0.2 s (the tests' own ledger runs
    it only at its start)."""
    logs = tmp_path_factory.mktemp("ledger-replicas")
    started = [Replica(f"ledger-{n}", settings, logs) for n in (1, 2)]
    try:
        async with httpx.AsyncClient() as http:
            for replica in started:
                await wait_until(
                    lambda r=replica: r.ready(http), timeout=60, message=f"{replica.url} ready"
                )
        yield started
    finally:
        for replica in started:
            replica.process.stop()


async def _name(js: JetStreamContext, group: str, *, below: int, revision: int = 1) -> None:
    """Checkout announces the group's name and its USD auto-approval threshold."""
    event = GroupSettingsChanged(
        group_id=group,
        revision=revision,
        name=f"Group {group}",
        payout_auto_approve_below={"usd": below},
    )
    await publish_domain_event(js, event)


async def _applied(settings: Settings, groups: Iterable[str]) -> bool:
    wanted = set(groups)
    async with sessions_on(settings.sqlalchemy_url) as sessions, sessions() as db:
        found = await db.scalars(
            select(orm.group_settings.c.group_id).where(orm.group_settings.c.group_id.in_(wanted))
        )
        return set(found) == wanted


async def _make_due(settings: Settings, groups: list[str], due: datetime) -> None:
    """The schedules' due date has come (the clock, as far as the schedules can tell)."""
    async with sessions_on(settings.sqlalchemy_url) as sessions, sessions() as db:
        await db.execute(
            text("UPDATE payout_schedules SET next_due_at = :due WHERE group_id = ANY(:groups)"),
            {"due": due, "groups": groups},
        )
        await db.commit()


async def _scheduled(ledger: httpx.AsyncClient, group: str, *, destination: str) -> None:
    """A weekly schedule paying to `destination` (set by an admin)."""
    answer = await ledger.put(
        f"/groups/{group}/payout-schedule",
        json={"interval": "weekly", "currency": "usd", "destination_account": destination},
        headers=auth(),
    )
    assert answer.status_code == 200, answer.text


async def _requests(ledger: httpx.AsyncClient, group: str) -> list[dict[str, Any]]:
    answer = await ledger.get(f"/groups/{group}/payouts", headers=auth())
    found: list[dict[str, Any]] = answer.json()["data"]
    return found


async def _outbox(settings: Settings, subject: str) -> list[dict[str, Any]]:
    """The events of `subject` the ledger queued (once each, whichever process queued them)."""
    async with sessions_on(settings.sqlalchemy_url) as sessions, sessions() as db:
        rows = await db.scalars(select(orm.outbox.c.payload).where(orm.outbox.c.subject == subject))
        return [json.loads(payload) for payload in rows]


async def _relayed(settings: Settings) -> bool:
    async with sessions_on(settings.sqlalchemy_url) as sessions, sessions() as db:
        waiting = await db.scalar(text("SELECT count(*) FROM outbox WHERE published_at IS NULL"))
        return waiting == 0


async def _on_domain(js: JetStreamContext, subject: str) -> list[dict[str, Any]]:
    """Every message on DOMAIN under `subject`, read by a consumer of the test's own."""
    sub = await js.pull_subscribe(subject, stream=DOMAIN.name)
    found = []
    try:
        while True:
            try:
                messages = await sub.fetch(256, timeout=1)
            except TimeoutError:  # nothing more to read
                return found
            for message in messages:
                found.append(json.loads(message.data))
                await message.ack()
    finally:
        await sub.unsubscribe()


async def test_due_schedules_are_requested_approved_and_paid_once_by_two_processes(
    replicas: list[Replica],
    world: StripeWorld,
    ledger: httpx.AsyncClient,
    settings: Settings,
    js: JetStreamContext,
) -> None:
    funded = [await funded_group(world, ledger) for _ in range(GROUPS)]
    groups = [group for group, _ in funded]
    available = dict(funded)
    for group in groups:
        await _name(js, group, below=available[group] + 1)
        await _scheduled(ledger, group, destination=f"acct_{group}")
    await wait_until(lambda: _applied(settings, groups), message="thresholds applied")
    due = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    await _make_due(settings, groups, due)

    async def paid() -> bool:
        requests = [await _requests(ledger, group) for group in groups]
        return all(r and r[0]["status"] == "paid" for r in requests)

    await wait_until(paid, timeout=30, message="every due schedule paid")

    payout_ids = {}
    for group in groups:
        [request] = await _requests(ledger, group)
        assert (request["amount"], request["requested_by"], request["decided_by"]) == (
            available[group],
            "schedule",
            "auto",
        )
        assert request["idempotency_key"] == f"schedule:{due.isoformat()}"
        [transfer] = (
            await world.client.v1.transfers.list_async({"transfer_group": request["payout_id"]})
        ).data
        assert (transfer.id, transfer.amount, transfer.destination) == (
            request["transfer_id"],
            available[group],
            f"acct_{group}",
        )
        schedule = (await ledger.get(f"/groups/{group}/payout-schedule", headers=auth())).json()
        next_due = datetime.fromisoformat(schedule["next_due_at"])
        now = datetime.now(UTC)
        assert now < next_due <= now + timedelta(days=7), "the next Monday"
        assert (next_due.weekday(), next_due.time().isoformat()) == (0, "00:00:00")
        balance = await ledger.get(f"/groups/{group}/balance?currency=usd", headers=auth())
        assert balance.json() == {
            "group_id": group,
            "currency": "usd",
            "payable": 0,
            "pending": 0,
            "available": 0,
        }
        payout_ids[request["payout_id"]] = group

    # Stripe's transfer.created reaches the ledger too; more rounds run meanwhile.
    await world.forward()
    await wait_until(lambda: consumer_idle(js, STRIPE.name, "ledger"), message="events consumed")
    await wait_until(lambda: _relayed(settings), message="outbox relayed")
    async with httpx.AsyncClient() as http:
        for replica in replicas:
            assert await replica.ready(http), "both processes still up"
    queued = Counter(e["payout_id"] for e in await _outbox(settings, "ledger.payout_recorded"))
    announced = await _on_domain(js, "ledger.payout_recorded")
    on_stream = Counter(e["payout_id"] for e in announced)
    for payout_id, group in payout_ids.items():
        assert (queued[payout_id], on_stream[payout_id]) == (1, 1), group
    [event] = [e for e in announced if e["payout_id"] == next(iter(payout_ids))]
    assert (event["status"], event["currency"], event["group_id"]) == (
        "paid",
        "usd",
        payout_ids[event["payout_id"]],
    )
    # Each request was made by one process or the other, once in all.
    made = Counter(
        entry["payout_id"]
        for replica in replicas
        for entry in replica.logged("payout_schedule.requested")
    )
    assert {p: made[p] for p in payout_ids} == dict.fromkeys(payout_ids, 1)


async def test_above_the_threshold_a_due_request_waits_for_an_admin_who_may_reject_it(
    replicas: list[Replica],
    world: StripeWorld,
    ledger: httpx.AsyncClient,
    settings: Settings,
    js: JetStreamContext,
) -> None:
    group, available = await funded_group(world, ledger)
    await _name(js, group, below=available)  # at the threshold: not below it
    await _scheduled(ledger, group, destination=f"acct_{group}")
    await wait_until(lambda: _applied(settings, [group]), message="threshold applied")
    await _make_due(settings, [group], datetime.now(UTC) - timedelta(minutes=1))

    async def moved_on() -> dict[str, Any] | None:
        schedule = (await ledger.get(f"/groups/{group}/payout-schedule", headers=auth())).json()
        return (
            schedule
            if datetime.fromisoformat(schedule["next_due_at"]) > datetime.now(UTC)
            else None
        )

    await wait_until(moved_on, message="the schedule handled")
    [waiting] = await _requests(ledger, group)
    assert (waiting["status"], waiting["decided_by"], waiting["decided_at"]) == (
        "requested",
        None,
        None,
    )
    transfers = await world.client.v1.transfers.list_async({"transfer_group": waiting["payout_id"]})
    assert transfers.data == []
    async with browser(ledger) as organizer:
        await sign_in(organizer, token(sub=unique("org"), roles=("organizer",), groups=(group,)))
        home = await organizer.get("/console")
    awaiting = home.text.split('id="awaiting"')[1]
    assert f">Group {group}</a>" in awaiting, "named as checkout named it"

    rejected = await ledger.post(f"/payouts/{waiting['payout_id']}/reject", headers=auth())
    assert rejected.status_code == 200, rejected.text
    decided_at = datetime.fromisoformat(rejected.json()["decided_at"])
    assert abs(datetime.now(UTC) - decided_at) < timedelta(minutes=1)
    [listed] = await _requests(ledger, group)
    assert (listed["status"], listed["decided_at"]) == ("rejected", rejected.json()["decided_at"])
    balance = await ledger.get(f"/groups/{group}/balance?currency=usd", headers=auth())
    assert balance.json()["available"] == available

    async def announced() -> list[dict[str, Any]] | None:
        found = [
            e
            for e in await _on_domain(js, "ledger.payout_rejected")
            if e["payout_id"] == waiting["payout_id"]
        ]
        return found or None

    [event] = await wait_until(announced, message="the rejection announced")
    assert (event["group_id"], event["amount"], event["currency"]) == (group, available, "usd")
    assert datetime.fromisoformat(event["decided_at"]) == decided_at
    again = await ledger.post(f"/payouts/{waiting['payout_id']}/reject", headers=auth())
    assert again.status_code == 409
    await wait_until(lambda: _relayed(settings), message="outbox relayed")
    queued = await _outbox(settings, "ledger.payout_rejected")
    assert [e["payout_id"] for e in queued].count(waiting["payout_id"]) == 1
