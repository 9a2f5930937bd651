"""Rewinding a service's durable consumer replays the stream into it; its inbox skips what it
already applied, and a rebuilt (empty) database gets everything again."""

from datetime import UTC, datetime

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from sqlalchemy import delete, func, select

from tollgate_shared.messaging.consumer import IdempotentConsumer
from tollgate_shared.messaging.message import Incoming
from tollgate_shared.messaging.publish import publish_with_ack
from tollgate_shared.messaging.replay import consumer_lag, rewind_consumer
from tollgate_shared.messaging.streams import STRIPE, ConsumerSpec
from tollgate_shared.persistence.unit_of_work import UnitOfWork
from tollgate_shared.testing import RawHandlers, RunningConsumers, consumer_idle, unique, wait_until


async def test_rewind_rebuilds_a_wiped_database(
    db, nats_url: str, js: JetStreamContext, nats_client: NatsClient
) -> None:
    topic = unique("t")
    spec = ConsumerSpec(durable=unique("svc"), stream=STRIPE, filter_subject=f"stripe.{topic}.>")

    async def handler(uow: UnitOfWork, incoming: Incoming) -> None:
        await uow.session.execute(
            db.effects.insert().values(message_id=incoming.message_id, body=incoming.subject)
        )

    async def effect_count() -> int:
        async with db.sessions() as session:
            return (
                await session.execute(select(func.count()).select_from(db.effects))
            ).scalar_one()

    async def run_until(count: int) -> None:
        broker = await RunningConsumers.start(
            nats_client, IdempotentConsumer(spec, RawHandlers(handler), db.units, db.inbox)
        )
        try:
            await wait_until(lambda: _equals(effect_count, count), message=f"{count} effects")
            await wait_until(
                lambda: consumer_idle(js, STRIPE.name, spec.durable), message="drained"
            )
        finally:
            await broker.stop()

    acks = [
        await publish_with_ack(js, f"stripe.{topic}.{n}", b"1", msg_id=unique("e"), stream="STRIPE")
        for n in "abc"
    ]
    await run_until(3)

    # Replaying over the existing data changes nothing.
    await rewind_consumer(js, STRIPE.name, spec.durable, sequence=acks[0].seq)
    await run_until(3)

    # The service's data is lost; rewinding to a time before the first event rebuilds it.
    async with db.sessions() as session, session.begin():
        await session.execute(delete(db.effects))
        await session.execute(delete(db.inbox))
    info = await rewind_consumer(
        js, STRIPE.name, spec.durable, since=datetime(2000, 1, 1, tzinfo=UTC)
    )
    assert info.config.filter_subject == spec.filter_subject
    assert info.config.max_deliver == spec.config().max_deliver == -1
    await run_until(3)
    lag = {i.name: i for i in await consumer_lag(js, STRIPE.name)}
    assert lag[spec.durable].num_pending == 0


async def _equals(count, expected: int) -> bool:
    return await count() == expected
