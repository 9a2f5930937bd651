"""The transactional outbox and its relay against real Postgres and JetStream."""

import asyncio

import nats.js.errors
import pytest
from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from sqlalchemy import select

from tollgate_shared.contracts.base import DomainEvent, parse_domain_event
from tollgate_shared.contracts.membership import MembershipActivated
from tollgate_shared.messaging.channels import domain_events
from tollgate_shared.messaging.outbox import Outbox
from tollgate_shared.messaging.publish import publish_with_ack
from tollgate_shared.messaging.relay import OutboxRelay
from tollgate_shared.messaging.streams import DOMAIN
from tollgate_shared.persistence.unit_of_work import UnitOfWork, units_of_work
from tollgate_shared.testing import unique, wait_until


def activated(user_id: str) -> MembershipActivated:
    return MembershipActivated(user_id=user_id, group_id="g1", tier_id="t1")


async def messages_for(js: JetStreamContext, user_id: str) -> list:
    """Every DOMAIN message about `user_id` (an ephemeral consumer from the stream start)."""
    sub = await js.subscribe(
        "membership.activated",
        stream=DOMAIN.name,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
        ordered_consumer=True,
    )
    found = []
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=0.5)
            except TimeoutError:
                break
            event = parse_domain_event(msg.data)
            if getattr(event, "user_id", None) == user_id:
                found.append(event)
    finally:
        await sub.unsubscribe()
    return found


async def test_committed_row_is_published_once_with_its_id(
    db, js: JetStreamContext, broker: NatsBroker
) -> None:
    publishers = domain_events(broker, DomainEvent)
    user = unique("u")
    event = activated(user)
    async with db.units() as uow:
        uow.emit(event)
        await uow.commit()
    relay = OutboxRelay(db.sessions, db.emitted, publishers)

    assert await relay.relay_once() == 1
    assert await relay.relay_once() == 0
    published = await messages_for(js, user)
    assert [e.id for e in published] == [event.id]
    assert isinstance(published[0], MembershipActivated)


async def test_row_of_rolled_back_transaction_is_never_published(
    db, js: JetStreamContext, broker: NatsBroker
) -> None:
    publishers = domain_events(broker, DomainEvent)
    user = unique("u")
    async with db.units() as uow:
        uow.emit(activated(user))  # left without a commit: rolled back
    with pytest.raises(RuntimeError):
        async with db.units() as uow:
            uow.emit(activated(user))
            await uow.session.execute(select(db.outbox.c.id))
            raise RuntimeError("the state change failed")
    relay = OutboxRelay(db.sessions, db.emitted, publishers)

    assert await relay.relay_once() == 0
    async with db.sessions() as session:
        assert (await session.execute(select(db.outbox.c.id))).all() == []
    assert await messages_for(js, user) == []


async def test_relay_crash_after_publish_republishes_and_is_deduplicated(
    db, js: JetStreamContext, broker: NatsBroker
) -> None:
    publishers = domain_events(broker, DomainEvent)
    user = unique("u")
    event = activated(user)
    async with db.units() as uow:
        uow.emit(event)
        await uow.commit()

    # A relay published the row and died before marking it (its transaction rolled back).
    async with db.sessions() as session:
        row = (await session.execute(select(db.outbox))).one()
    await publish_with_ack(js, row.subject, row.payload, msg_id=row.message_id, stream=DOMAIN.name)
    assert [e.id for e in await messages_for(js, user)] == [event.id]

    healthy = OutboxRelay(db.sessions, db.emitted, publishers)
    assert await healthy.relay_once() == 1
    async with db.sessions() as session:
        row = (await session.execute(select(db.outbox.c.published_at))).one()
        assert row.published_at is not None
    assert [e.id for e in await messages_for(js, user)] == [event.id]


async def test_rows_stay_unpublished_when_a_publish_fails(
    db, js: JetStreamContext, broker: NatsBroker
) -> None:
    publishers = domain_events(broker, DomainEvent)
    user = unique("u")
    event = activated(user)
    async with db.units() as uow:
        uow.emit(event)
        # No stream takes this subject: JetStream cannot ack it.
        await uow.session.execute(
            db.outbox.insert().values(message_id=unique("m"), subject="nowhere.x", payload=b"{}")
        )
        await uow.commit()
    publishers["nowhere.x"] = publishers[event.subject]
    relay = OutboxRelay(db.sessions, db.emitted, publishers)

    with pytest.raises(nats.js.errors.NoStreamResponseError):
        await relay.relay_once()
    async with db.sessions() as session:
        rows = (await session.execute(select(db.outbox.c.published_at, db.outbox.c.attempts))).all()
    assert [(r.published_at, r.attempts) for r in rows] == [(None, 0), (None, 0)]

    async with db.sessions() as session, session.begin():
        await session.execute(db.outbox.delete().where(db.outbox.c.subject == "nowhere.x"))
    assert await relay.relay_once() == 1
    assert [e.id for e in await messages_for(js, user)] == [event.id]


async def test_several_relays_share_rows_without_doubles(
    db, js: JetStreamContext, broker: NatsBroker
) -> None:
    publishers = domain_events(broker, DomainEvent)
    user = unique("u")
    events = [activated(user) for _ in range(30)]
    async with db.units() as uow:
        uow.emit(*events)
        await uow.commit()
    relays = [OutboxRelay(db.sessions, db.emitted, publishers, batch_size=5) for _ in range(3)]
    tasks = [asyncio.create_task(r.run()) for r in relays]
    try:

        async def all_marked() -> bool:
            async with db.sessions() as session:
                rows = await session.execute(
                    select(db.outbox.c.id).where(db.outbox.c.published_at.is_(None))
                )
                return rows.first() is None

        await wait_until(all_marked, message="all rows relayed")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    published = await messages_for(js, user)
    assert sorted(e.id for e in published) == sorted(e.id for e in events)


async def test_events_are_queued_once_each_in_order_and_wake_the_relay_after_commit(
    db,
) -> None:
    """One event's row, then several in one statement: in the order emitted, an id queued
    before (in this transaction or an earlier one) queues nothing; the relay is woken after a
    commit that queued some, and not by one that queued none."""
    user = unique("u")
    first, second, third = activated(user), activated(user), activated(user)
    wakes: list[int] = []

    class Counted(Outbox):
        def wake(self) -> None:
            wakes.append(1)

    units = units_of_work(UnitOfWork, db.sessions, outbox=Counted(db.outbox))
    for emitted, woken in (([second], 1), ([third, second, first, third], 2), ([first], 2)):
        async with units() as uow:
            uow.emit(*emitted)
            await uow.commit()
        assert len(wakes) == woken
    async with db.sessions() as session:
        rows = await session.execute(
            select(db.outbox.c.message_id, db.outbox.c.payload, db.outbox.c.headers)
            .where(db.outbox.c.message_id.in_([first.id, second.id, third.id]))
            .order_by(db.outbox.c.id)
        )
        found = rows.all()
    assert [message_id for message_id, _, _ in found] == [second.id, third.id, first.id]
    assert [parse_domain_event(payload).id for _, payload, _ in found] == [
        second.id,
        third.id,
        first.id,
    ]
    assert all(headers["Tollgate-Event-Version"] == "1" for _, _, headers in found)
