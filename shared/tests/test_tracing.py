"""One trace follows a message from its publisher through a consumer, its outbox and the
next consumer (real JetStream and Postgres)."""

from collections.abc import Iterator

import pytest
from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import text

from tollgate_shared.contracts.base import DomainEvent
from tollgate_shared.contracts.membership import MembershipActivated
from tollgate_shared.infra.settings import ServiceSettings, async_url
from tollgate_shared.infra.stripe_client import make_stripe_client
from tollgate_shared.messaging.channels import domain_events
from tollgate_shared.messaging.consumer import IdempotentConsumer
from tollgate_shared.messaging.message import Incoming
from tollgate_shared.messaging.publish import publish_with_ack
from tollgate_shared.messaging.relay import OutboxRelay
from tollgate_shared.messaging.streams import DOMAIN, STRIPE, ConsumerSpec
from tollgate_shared.observability.tracing import (
    configure_tracing,
    continued,
    exported_to,
    inject,
)
from tollgate_shared.persistence.db import make_engine
from tollgate_shared.persistence.unit_of_work import UnitOfWork
from tollgate_shared.testing import RawHandlers, RunningConsumers, unique, wait_until


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    configure_tracing("test")
    exporter = InMemorySpanExporter()
    with exported_to(SimpleSpanProcessor(exporter)):
        yield exporter


async def test_trace_spans_publisher_consumer_outbox_and_next_consumer(
    db,
    nats_url: str,
    js,
    spans: InMemorySpanExporter,
    nats_client: NatsClient,
    broker: NatsBroker,
) -> None:
    publishers = domain_events(broker, DomainEvent)
    user = unique("u")
    topic = unique("t")

    async def on_stripe(uow: UnitOfWork, incoming: Incoming) -> None:
        uow.emit(MembershipActivated(user_id=user, group_id="g"))

    async def on_domain(uow: UnitOfWork, incoming: Incoming) -> None:
        pass

    stripe_spec = ConsumerSpec(durable=unique("a"), stream=STRIPE, filter_subject=f"stripe.{topic}")
    domain_spec = ConsumerSpec(
        durable=unique("b"), stream=DOMAIN, filter_subject="membership.activated"
    )
    first = IdempotentConsumer(stripe_spec, RawHandlers(on_stripe), db.units, db.inbox)
    second = IdempotentConsumer(domain_spec, RawHandlers(on_domain), db.units, db.inbox)
    consumers = await RunningConsumers.start(nats_client, first, second)
    relay = OutboxRelay(db.sessions, db.emitted, publishers)
    try:
        with continued("webhook stripe", {}, kind=SpanKind.SERVER) as root:
            await publish_with_ack(
                js,
                f"stripe.{topic}",
                b"{}",
                msg_id=unique("evt"),
                stream=STRIPE.name,
                headers=inject({}),
            )
        trace_id = root.get_span_context().trace_id

        def consumed(subject: str) -> list:
            return [
                s
                for s in spans.get_finished_spans()
                if s.name == f"consume {subject}" and s.context.trace_id == trace_id
            ]

        [first] = await wait_until(lambda: consumed(f"stripe.{topic}"), message="first consumer")
        assert first.parent.span_id == root.get_span_context().span_id
        await wait_until(relay.relay_once, message="relayed")
        downstream = await wait_until(
            lambda: consumed("membership.activated"), message="second consumer"
        )
        assert any(s.parent.span_id == first.context.span_id for s in downstream)
    finally:
        await consumers.stop()


async def test_database_statements_and_stripe_calls_are_spans_of_the_trace(
    database_server_url: str, stripe_emulator_url: str, spans: InMemorySpanExporter
) -> None:
    """While spans are exported, each statement (psycopg, under SQLAlchemy or raw) and each
    Stripe request is a span of the trace it runs in."""
    engine = make_engine(async_url(database_server_url))  # connections opened while exporting
    client = make_stripe_client(ServiceSettings(stripe_api_base=stripe_emulator_url))
    try:
        with continued("request", {}, kind=SpanKind.SERVER) as root:
            async with engine.connect() as conn:
                assert (await conn.execute(text("select 41 + 1"))).scalar() == 42
            customer = await client.v1.customers.create_async({"email": "traced@example.com"})
        trace_id = root.get_span_context().trace_id
    finally:
        await engine.dispose()

    mine = [s for s in spans.get_finished_spans() if s.context.trace_id == trace_id]
    statements = [s for s in mine if (s.attributes or {}).get("db.system") == "postgresql"]
    assert any("select 41 + 1" in str((s.attributes or {}).get("db.statement")) for s in statements)
    [stripe_call] = [s for s in mine if s.name == "stripe POST"]
    assert stripe_call.kind is SpanKind.CLIENT
    assert (stripe_call.attributes or {})["url.path"] == "/v1/customers"
    assert customer.id.startswith("cus_")
