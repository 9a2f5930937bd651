"""The idempotent consumer against real NATS JetStream and real Postgres."""

from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tollgate_shared.messaging.broker import connect_and_declare, make_broker
from tollgate_shared.messaging.consumer import (
    IdempotentConsumer,
    Incoming,
    PermanentError,
    subscribe,
)
from tollgate_shared.messaging.publish import publish_with_ack
from tollgate_shared.messaging.streams import DLQ, STRIPE, ConsumerSpec, dlq_subject
from tollgate_shared.testing import consumer_idle, unique, wait_until


async def effects_of(db, message_id: str) -> list[str]:
    async with db.sessions() as session:
        rows = await session.execute(
            select(db.effects.c.body).where(db.effects.c.message_id == message_id)
        )
        return [r.body for r in rows]


async def run_consumer(nats_url: str, consumer: IdempotentConsumer) -> NatsBroker:
    broker = make_broker(nats_url, name="test")
    await connect_and_declare(broker)
    subscribe(broker, consumer)
    await broker.start()
    return broker


def spec_for(topic: str, **overrides) -> ConsumerSpec:
    defaults = dict(backoff=(0.05,), max_deliver=4)
    return ConsumerSpec(
        durable=unique("c"),
        stream=STRIPE,
        filter_subject=f"stripe.{topic}.>",
        **(defaults | overrides),
    )


async def test_failure_mid_transaction_redelivers_and_commits_once(
    db, nats_url: str, js: JetStreamContext
) -> None:
    topic = unique("t")
    attempts: list[int] = []

    async def handler(session: AsyncSession, incoming: Incoming) -> None:
        attempts.append(incoming.delivered)
        await session.execute(
            db.effects.insert().values(message_id=incoming.message_id, body=incoming.data.decode())
        )
        if len(attempts) == 1:
            raise ConnectionError("database went away mid-transaction")

    consumer = IdempotentConsumer(spec_for(topic), db.sessions, db.inbox, handler)
    broker = await run_consumer(nats_url, consumer)
    try:
        event_id = unique("evt")
        await publish_with_ack(js, f"stripe.{topic}.x", b"paid", msg_id=event_id, stream="STRIPE")
        await wait_until(lambda: effects_of(db, event_id), message="effect committed")
        assert await effects_of(db, event_id) == ["paid"]
        assert attempts == [1, 2]

        await wait_until(
            lambda: consumer_idle(js, STRIPE.name, consumer.spec.durable), message="message acked"
        )
        assert attempts == [1, 2]
    finally:
        await broker.stop()


async def test_delivery_after_commit_is_acked_without_second_effect(
    db, nats_url: str, js: JetStreamContext
) -> None:
    """The effect committed but the ack was lost: the redelivery is recognised and acked."""
    topic = unique("t")
    subject = f"stripe.{topic}.x"
    calls: list[str] = []

    async def handler(session: AsyncSession, incoming: Incoming) -> None:
        calls.append(incoming.message_id)
        await session.execute(
            db.effects.insert().values(message_id=incoming.message_id, body="once")
        )

    consumer = IdempotentConsumer(spec_for(topic), db.sessions, db.inbox, handler)
    event_id = unique("evt")
    assert await consumer.apply(Incoming(event_id, subject, b"1", 1, 1)) is True
    broker = await run_consumer(nats_url, consumer)
    try:
        await publish_with_ack(js, subject, b"1", msg_id=event_id, stream=STRIPE.name)

        async def acked() -> bool:
            info = await js.consumer_info(STRIPE.name, consumer.spec.durable)
            return (
                info.delivered.stream_seq > 0
                and info.num_ack_pending == 0
                and info.num_pending == 0
            )

        await wait_until(acked, message="redelivery acked")
        assert calls == [event_id]
        assert await effects_of(db, event_id) == ["once"]
    finally:
        await broker.stop()


async def test_poison_message_goes_to_dlq_with_reason(
    db, nats_url: str, js: JetStreamContext
) -> None:
    topic = unique("t")

    async def handler(session: AsyncSession, incoming: Incoming) -> None:
        raise PermanentError("unknown tier")

    consumer = IdempotentConsumer(spec_for(topic), db.sessions, db.inbox, handler)
    broker = await run_consumer(nats_url, consumer)
    try:
        event_id = unique("evt")
        await publish_with_ack(js, f"stripe.{topic}.x", b"bad", msg_id=event_id, stream="STRIPE")
        sub = await js.subscribe(
            dlq_subject(consumer.spec.durable, f"stripe.{topic}.x"), stream=DLQ.name
        )
        msg = await sub.next_msg(timeout=15)
        assert msg.data == b"bad"
        assert msg.headers["Tollgate-Original-Msg-Id"] == event_id
        assert "unknown tier" in msg.headers["Tollgate-Error"]
        await sub.unsubscribe()
        assert await effects_of(db, event_id) == []
    finally:
        await broker.stop()


async def test_exhausted_retries_go_to_dlq(db, nats_url: str, js: JetStreamContext) -> None:
    topic = unique("t")
    attempts: list[int] = []

    async def handler(session: AsyncSession, incoming: Incoming) -> None:
        attempts.append(incoming.delivered)
        raise RuntimeError("always failing")

    consumer = IdempotentConsumer(spec_for(topic, max_deliver=3), db.sessions, db.inbox, handler)
    broker = await run_consumer(nats_url, consumer)
    try:
        event_id = unique("evt")
        await publish_with_ack(js, f"stripe.{topic}.x", b"x", msg_id=event_id, stream="STRIPE")
        sub = await js.subscribe(
            dlq_subject(consumer.spec.durable, f"stripe.{topic}.x"), stream=DLQ.name
        )
        msg = await sub.next_msg(timeout=15)
        assert msg.headers["Tollgate-Delivered"] == "3"
        assert attempts == [1, 2, 3]
        await sub.unsubscribe()
    finally:
        await broker.stop()
