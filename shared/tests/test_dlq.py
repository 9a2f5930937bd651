"""Dead letters: parked with the reason, replayed into the consumer that gave up, dropped."""

import contextlib
import dataclasses
from dataclasses import dataclass

from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient
from nats.errors import MsgAlreadyAckdError
from nats.js import JetStreamContext
from sqlalchemy import select

from tollgate_shared.messaging import dlq
from tollgate_shared.messaging.channels import dead_letters
from tollgate_shared.messaging.consumer import IdempotentConsumer
from tollgate_shared.messaging.message import Delivery, Incoming, PermanentError
from tollgate_shared.messaging.publish import publish_with_ack
from tollgate_shared.messaging.replay import rewind_consumer
from tollgate_shared.messaging.streams import STRIPE, ConsumerSpec
from tollgate_shared.persistence.unit_of_work import UnitOfWork
from tollgate_shared.testing import RawHandlers, RunningConsumers, consumer_idle, unique, wait_until


async def letters_of(js: JetStreamContext, service: str) -> list[dlq.DeadLetter]:
    return [letter async for letter in dlq.iterate(js, service=service)]


async def test_replay_reaches_only_the_consumer_that_gave_up(
    db, nats_url: str, js, nats_client: NatsClient
) -> None:
    topic = unique("t")
    healthy_effects: list[str] = []
    broken = {"on": True}

    async def healthy(uow: UnitOfWork, incoming: Incoming) -> None:
        healthy_effects.append(incoming.message_id)

    async def flaky(uow: UnitOfWork, incoming: Incoming) -> None:
        if broken["on"]:
            raise RuntimeError("downstream refused")
        await uow.session.execute(
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
        IdempotentConsumer(spec(flaky_name), RawHandlers(flaky), db.units, db.inbox),
        IdempotentConsumer(spec(healthy_name), RawHandlers(healthy), db.units, db.inbox),
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


async def refused(uow: UnitOfWork, incoming: Incoming) -> None:
    raise PermanentError("still refused")


@dataclass(frozen=True)
class Refused:
    """A consumer that refuses everything, and the one message on its subjects."""

    consumer: IdempotentConsumer
    event_id: str
    sequence: int

    @property
    def service(self) -> str:
        return self.consumer.spec.durable


async def refused_message(db, js: JetStreamContext) -> Refused:
    topic = unique("t")
    spec = ConsumerSpec(durable=unique("svc"), stream=STRIPE, filter_subject=f"stripe.{topic}.>")
    event_id = unique("evt")
    ack = await publish_with_ack(js, f"stripe.{topic}.x", b"{}", msg_id=event_id, stream="STRIPE")
    return Refused(
        IdempotentConsumer(spec, RawHandlers(refused), db.units, db.inbox), event_id, ack.seq
    )


async def next_letter(js: JetStreamContext, service: str, after: set[int]) -> list[dlq.DeadLetter]:
    """The service's letters, once one with a sequence not in `after` is among them."""

    async def arrived() -> list[dlq.DeadLetter] | None:
        letters = await letters_of(js, service)
        return letters if {letter.sequence for letter in letters} - after else None

    return await wait_until(arrived, message="a new letter")


async def test_a_replayed_letter_that_fails_again_is_parked_again_every_time(
    db, js: JetStreamContext, nats_client: NatsClient
) -> None:
    message = await refused_message(db, js)
    broker = await RunningConsumers.start(nats_client, message.consumer)
    try:
        [first] = await next_letter(js, message.service, set())
        await dlq.replay(js, first)
        [second] = await next_letter(js, message.service, {first.sequence})
        await dlq.replay(js, second)
        [third] = await next_letter(js, message.service, {first.sequence, second.sequence})
        assert [letter.original_id for letter in (first, second, third)] == [message.event_id] * 3
        assert "still refused" in third.error
    finally:
        await broker.stop()


async def test_a_rewound_consumer_that_fails_again_parks_the_message_again(
    db, js: JetStreamContext, nats_client: NatsClient
) -> None:
    message = await refused_message(db, js)
    letters: list[dlq.DeadLetter] = []
    for rewound in (False, True):
        if rewound:
            await rewind_consumer(js, STRIPE.name, message.service, sequence=message.sequence)
        broker = await RunningConsumers.start(nats_client, message.consumer)
        try:
            letters = await next_letter(js, message.service, {x.sequence for x in letters})
        finally:
            await broker.stop()
    assert [letter.original_id for letter in letters] == [message.event_id] * 2


async def test_parking_one_delivery_twice_keeps_one_letter(
    db, js: JetStreamContext, nats_client: NatsClient, broker: NatsBroker
) -> None:
    """A second attempt at parking the same delivery (its DLQ ack was lost, or the process died
    before terminating it) is deduplicated by JetStream."""
    message = await refused_message(db, js)
    consumer = message.consumer
    await js.add_consumer(STRIPE.name, consumer.spec.config())
    sub = await js.pull_subscribe_bind(message.service, stream=STRIPE.name)
    [msg] = await sub.fetch(1, timeout=5)
    first = Incoming.from_msg(msg)
    dead = dead_letters(broker, consumer.spec.durable)
    await consumer.process(Delivery(msg, first), js, dead)
    # The same delivery coming back (its second delivery): parked again, then terminated again.
    with contextlib.suppress(MsgAlreadyAckdError):
        again = Delivery(msg, dataclasses.replace(first, delivered=2))
        await consumer.process(again, js, dead)
    await sub.unsubscribe()
    assert len(await letters_of(js, message.service)) == 1


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
