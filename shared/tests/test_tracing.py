"""One trace follows a message from its publisher through a consumer, its outbox and the
next consumer (real JetStream and Postgres)."""

from collections.abc import Iterator

import pytest
from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from tollgate_shared.contracts.base import DomainEvent
from tollgate_shared.contracts.membership import MembershipActivated
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
