"""Dead letters: parked with the reason, replayed into the consumer that gave up, dropped."""

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tollgate_shared.messaging import dlq
from tollgate_shared.messaging.consumer import IdempotentConsumer, Incoming
from tollgate_shared.messaging.publish import publish_with_ack
from tollgate_shared.messaging.streams import STRIPE, ConsumerSpec
from tollgate_shared.testing import RunningConsumers, consumer_idle, unique, wait_until


async def letters_of(js: JetStreamContext, service: str) -> list[dlq.DeadLetter]:
    return [letter async for letter in dlq.iterate(js, service=service)]


async def test_replay_reaches_only_the_consumer_that_gave_up(
    db, nats_url: str, js, nats_client: NatsClient
) -> None:
    topic = unique("t")
    healthy_effects: list[str] = []
    broken = {"on": True}

    async def healthy(session: AsyncSession, incoming: Incoming) -> None:
        healthy_effects.append(incoming.message_id)

    async def flaky(session: AsyncSession, incoming: Incoming) -> None:
        if broken["on"]:
            raise RuntimeError("downstream refused")
        await session.execute(
            db.effects.insert().values(message_id=incoming.message_id, body=incoming.subject)
        )

    def spec(name: str) -> ConsumerSpec:
        return ConsumerSpec(
            durable=name,
            stream=STRIPE,
            filter_subject=f"stripe.{topic}.>",
            max_deliver=2,
            backoff=(0.05,),
        )

    flaky_name, healthy_name = unique("flaky"), unique("healthy")
    broker = await RunningConsumers.start(
        nats_client,
        IdempotentConsumer(spec(flaky_name), db.sessions, db.inbox, flaky),
        IdempotentConsumer(spec(healthy_name), db.sessions, db.inbox, healthy),
    )
    try:
        event_id = unique("evt")
        subject = f"stripe.{topic}.paid"
        await publish_with_ack(js, subject, b"{}", msg_id=event_id, stream=STRIPE.name)
        parked = await wait_until(lambda: letters_of(js, flaky_name), message="parked")
        assert [(p.original_id, p.original_subject, p.delivered) for p in parked] == [
            (event_id, subject, 2)
        ]
        assert "downstream refused" in parked[0].error
        await wait_until(lambda: healthy_effects == [event_id])

        broken["on"] = False
        await dlq.replay(js, parked[0])

        async def applied() -> list[str]:
            async with db.sessions() as session:
                rows = await session.execute(select(db.effects.c.message_id))
                return [r.message_id for r in rows]

        assert await wait_until(applied, message="replayed effect") == [event_id]
        assert await letters_of(js, flaky_name) == []

        await wait_until(lambda: consumer_idle(js, STRIPE.name, healthy_name))
        assert healthy_effects == [event_id], "the healthy consumer skipped the replay"
    finally:
        await broker.stop()


async def test_drop_removes_a_letter(js: JetStreamContext) -> None:
    service = unique("svc")
    await publish_with_ack(
        js,
        f"dlq.{service}.stripe.x",
        b"{}",
        msg_id=unique("d"),
        stream="DLQ",
        headers={dlq.ORIGINAL_SUBJECT: "stripe.x", dlq.ERROR: "boom"},
    )
    [letter] = await letters_of(js, service)
    assert letter.error == "boom"
    await dlq.drop(js, letter.sequence)
    assert await letters_of(js, service) == []
