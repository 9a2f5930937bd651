"""A running notifications service against real NATS, Postgres and the mail sink, and the
helpers its tests publish events and read mail with."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notifications.adapters.orm import outbox
from notifications.adapters.templates import Renderer
from notifications.config import Settings
from notifications.domain.delivery import RetryPolicy
from notifications.main import MIGRATIONS, create_app
from notifications.service_layer.sender import Mailer, Sender
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork
from tollgate_shared.contracts.base import DomainEvent
from tollgate_shared.contracts.checkout import (
    CatalogEntryChanged,
    GroupSettingsChanged,
    PurchasePaid,
)
from tollgate_shared.infra.process import ServerProcess, free_port
from tollgate_shared.infra.provide import Infrastructure
from tollgate_shared.messaging.outbox import Outbox
from tollgate_shared.messaging.streams import DOMAIN, STRIPE, ConsumerSpec
from tollgate_shared.persistence.unit_of_work import units_of_work
from tollgate_shared.testing import (
    MailSink,
    consumer_idle,
    durable_from_now,
    publish_domain_event,
    publish_stripe_event,
    serve_app,
    stripe_event,
    unique,
    wait_until,
)
from tollgate_shared.web.auth import issue_token

SECRET = "notifications-test-secret-0123456789abcdef"
STRIPE_FIXTURES = Path(__file__).parents[3] / "shared/tests/fixtures/stripe"
INVOICE_FIXTURE = STRIPE_FIXTURES / "invoice.json"

FAST = {
    "mail_retry_backoff": (0.2, 0.5),
    "mail_lease_seconds": 3.0,
    "mail_poll_interval": 0.1,
    "renewal_check_interval": 0.3,
    "consumer_ack_wait": 3.0,
    "mail_details_wait_seconds": 0.3,
}
"""Short waits so retries and reminders happen within a test (and a receipt whose Stripe
events a test does not publish goes out without waiting long for them)."""


class Harness:
    """Talks to one running service, the broker and a mail sink the way the other services
    and a member's mailbox would."""

    def __init__(
        self, base_url: str, js: JetStreamContext, sink_url: str, durable: str | None = None
    ) -> None:
        self.base_url = base_url
        self.js = js
        self.sink_url = sink_url
        self.durable = durable
        self.admin = self.bearer("adm", roles=["admin"])

    @staticmethod
    def bearer(sub: str, **claims: Any) -> dict[str, str]:
        """Headers with a token for `sub` signed with the service's secret."""
        return {"Authorization": "Bearer " + issue_token(SECRET, sub=sub, **claims)}

    async def publish(self, event: DomainEvent, *, msg_id: str | None = None) -> None:
        """Publish a domain event as a producer's outbox relay would."""
        await publish_domain_event(self.js, event, msg_id=msg_id)

    async def publish_stripe(self, event_type: str, obj: dict[str, Any]) -> None:
        """Publish a Stripe event as the webhook gateway would."""
        await publish_stripe_event(self.js, stripe_event(event_type, obj))

    async def applied(self) -> None:
        """Wait until the service has applied everything published so far on both streams
        (to publish what must come after it, not merely after it was published)."""
        assert self.durable is not None, "a service started by `start_service`"
        durable = self.durable

        async def idle() -> bool:
            return all([await consumer_idle(self.js, s, durable) for s in ("STRIPE", "DOMAIN")])

        await wait_until(idle, message="the service applied what was published")

    async def mail(self, to: str | None = None) -> list[dict[str, Any]]:
        """What the sink holds (for `to`, if given), newest first."""
        async with httpx.AsyncClient(base_url=self.sink_url, timeout=30) as client:
            response = await client.get("/api/messages", params={"to": to} if to else {})
            response.raise_for_status()
            result: list[dict[str, Any]] = response.json()
            return result

    async def wait_for_mail(
        self, to: str, count: int, timeout: float = 20.0
    ) -> list[dict[str, Any]]:
        """Wait until `to` has at least `count` messages; returns them."""

        async def enough() -> list[dict[str, Any]] | None:
            messages = await self.mail(to)
            return messages if len(messages) >= count else None

        return await wait_until(enough, timeout=timeout, message=f"{count} message(s) for {to}")

    async def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Call the service's HTTP API (as admin unless headers are given)."""
        kwargs.setdefault("headers", self.admin)
        # As long as the other services' tests allow: under a parallel run a loaded machine
        # may take longer than httpx's default 5 s to answer.
        async with httpx.AsyncClient(base_url=self.base_url, timeout=30) as client:
            return await client.request(method, path, **kwargs)

    async def notifications(self, **params: Any) -> list[dict[str, Any]]:
        """The admin list, all pages."""
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            query = {**params, "limit": 200, **({"cursor": cursor} if cursor else {})}
            page = (await self.api("GET", "/notifications", params=query)).json()
            items += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                return items

    async def announce_group(
        self, group_id: str, *, revision: int = 1, name: str, **settings: Any
    ) -> GroupSettingsChanged:
        """Publish a group's settings as checkout announces them (`contact_email`,
        `organizer_mail_opt_outs`, `sale_notice_digest`, … in `settings`)."""
        event = GroupSettingsChanged(group_id=group_id, revision=revision, name=name, **settings)
        await self.publish(event)
        return event

    async def announce_entry(
        self, group_id: str, entry_id: str, *, name: str, revision: int = 1, **entry: Any
    ) -> CatalogEntryChanged:
        """Publish a tier (`tier_…`) or item (`item_…`) as checkout announces it: USD 20.00 a
        month unless `entry` says otherwise."""
        kind = "tier" if entry_id.startswith("tier") else "item"
        values = {"amount": 2000, "currency": "usd", "active": True} | entry
        if kind == "tier":
            values.setdefault("interval", "month")
        event = CatalogEntryChanged(
            group_id=group_id,
            entry_kind=kind,
            entry_id=entry_id,
            name=name,
            revision=revision,
            **values,
        )
        await self.publish(event)
        return event

    async def set_contacts(self, group_id: str, *emails: str, name: str | None = None) -> None:
        """Set a group's organizer addresses."""
        body = {"emails": list(emails), "name": name}
        response = await self.api("PUT", f"/groups/{group_id}/contacts", json=body)
        assert response.status_code == 200, response.text


StartService = Callable[..., contextlib.AbstractAsyncContextManager[Harness]]


async def start_sink(
    infrastructure: Infrastructure, name: str, *, smtp_port: int, http_port: int
) -> ServerProcess:
    """A mail sink of its own on these ports (one that comes up after SMTP was down, or comes
    back), started as a process, once it answers; the caller stops it."""
    ports = ["--smtp-port", str(smtp_port), "--http-port", str(http_port)]
    sink = ServerProcess(
        name,
        [sys.executable, "-m", "mail_sink", *ports],
        log_path=infrastructure.var_dir / f"{name}.log",
    )
    await asyncio.to_thread(sink.wait_for_port, "127.0.0.1", http_port)
    return sink


@pytest.fixture
def start_service(
    nats_url: str,
    js: JetStreamContext,
    mail_sink: MailSink,
    migrated_database: Callable[[Path], str],
) -> StartService:
    """Start a service in this process on a fresh database with its own durable consumers."""

    @contextlib.asynccontextmanager
    async def start(
        *, smtp_url: str | None = None, sink_url: str | None = None, **overrides: Any
    ) -> AsyncIterator[Harness]:
        durable = unique("notifications")
        # From what the streams hold now: not the thousands of events earlier tests left.
        for stream, subjects in ((DOMAIN, ">"), (STRIPE, "stripe.>")):
            await durable_from_now(js, ConsumerSpec(durable, stream, subjects))
        settings = Settings(
            service_name="notifications",
            nats_url=nats_url,
            service_database_url=migrated_database(MIGRATIONS),
            smtp_url=smtp_url or mail_sink.smtp_url,
            auth_jwt_secret=SECRET,
            notifications_consumer=durable,
            **{**FAST, **overrides},
        )
        async with serve_app(create_app(settings)) as base_url:
            yield Harness(
                base_url, js, sink_url or mail_sink.http_url, settings.notifications_consumer
            )

    return start


@pytest.fixture
async def service(start_service: StartService) -> AsyncIterator[Harness]:
    """A running service with the shared mail sink."""
    async with start_service() as harness:
        yield harness


MakeSender = Callable[..., Sender]
THREE_TRIES = RetryPolicy((1.0,), 3)


@pytest.fixture
def make_sender() -> MakeSender:
    """Factory: a sender of `sessions`' notifications through `mailer`, run by the test itself
    (three attempts a second apart, batches of ten, two at once, a lease of 60 s unless
    given: `policy` and `Sender`'s keyword arguments)."""

    def make(
        sessions: async_sessionmaker[AsyncSession],
        mailer: Mailer,
        *,
        policy: RetryPolicy = THREE_TRIES,
        **options: Any,
    ) -> Sender:
        defaults: dict[str, Any] = {
            "renderer": Renderer("en_US"),
            "mail_from": "billing@tollgate.example",
            "batch_size": 10,
            "concurrency": 2,
            "lease": 60,
            "poll_interval": 0.05,
        }
        units = units_of_work(NotificationsUnitOfWork, sessions, outbox=Outbox(outbox))
        return Sender(units, mailer, policy, **(defaults | options))

    return make


@pytest.fixture
def harness(js: JetStreamContext, mail_sink: MailSink) -> Harness:
    """Publishing and mail reading, for a service run as its own process."""
    return Harness("", js, mail_sink.http_url)


@pytest.fixture
def service_env(nats_url: str) -> Callable[[str, str], dict[str, str]]:
    """The settings of a service run as a process, as environment variables, given its
    database URL and SMTP URL (a fresh durable consumer name each call)."""

    def env(database_url: str, smtp_url: str) -> dict[str, str]:
        values = {
            "NATS_URL": nats_url,
            "NOTIFICATIONS_DATABASE_URL": database_url,
            "SMTP_URL": smtp_url,
            "AUTH_JWT_SECRET": SECRET,
            "NOTIFICATIONS_CONSUMER": unique("notifications"),
            "LOG_LEVEL": "WARNING",
        }
        return values | {k.upper(): json.dumps(v) for k, v in FAST.items()}

    return env


def service_process(env: dict[str, str], log: Path) -> tuple[ServerProcess, str]:
    """The service run as a process of its own (`notifications serve`) with `env`, on a free
    port; returns it and its base URL (the caller stops it)."""
    port = free_port()
    server = ServerProcess(
        "notifications",
        [sys.executable, "-m", "notifications", "serve", "--port", str(port)],
        log_path=log,
        env=env,
    )
    return server, f"http://127.0.0.1:{port}"


async def ready(base_url: str) -> bool:
    """Whether a service process answers `/readyz` with 200."""
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            return (await client.get("/readyz")).status_code == 200
    except httpx.TransportError:
        return False


def purchase(group_id: str, item_id: str, *, amount: int = 2500, **fields: Any) -> PurchasePaid:
    """Checkout's announcement of a paid purchase of `item_id` in USD, by a new member unless
    `fields` name one (`user_id`, `email`, …)."""
    session = unique("pi")
    values = {
        "session_id": session,
        "payment_intent_id": session,
        "user_id": unique("usr"),
        "reference": unique("booking"),
    }
    return PurchasePaid(
        **(values | fields), group_id=group_id, item_id=item_id, amount=amount, currency="usd"
    )


def stripe_example(name: str, **values: Any) -> dict[str, Any]:
    """Stripe's example object `name` (`charge`, `invoice`, `subscription`: its shape, whose
    filler values tests replace) with `values` set."""
    data: dict[str, Any] = json.loads((STRIPE_FIXTURES / f"{name}.json").read_text())
    return data | values


@pytest.fixture
def invoice_object() -> dict[str, Any]:
    """Stripe's example invoice (current API version)."""
    data: dict[str, Any] = json.loads(INVOICE_FIXTURE.read_text())
    return data
