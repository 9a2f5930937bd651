"""The transactional outbox and its relay against real Postgres and JetStream."""

import asyncio

import nats.js.errors
import pytest
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from sqlalchemy import select

from tollgate_shared.db import DriverStatement
from tollgate_shared.events.base import parse_domain_event
from tollgate_shared.events.membership import MembershipActivated
from tollgate_shared.messaging import outbox
from tollgate_shared.messaging.outbox import OutboxRelay
from tollgate_shared.messaging.publish import publish_with_ack
from tollgate_shared.messaging.streams import DOMAIN
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


async def test_committed_row_is_published_once_with_its_id(db, js: JetStreamContext) -> None:
    user = unique("u")
    event = activated(user)
    async with db.sessions() as session, session.begin():
        await outbox.add(session, db.outbox, event)
    relay = OutboxRelay(db.sessions, db.outbox, js)

    assert await relay.relay_once() == 1
    assert await relay.relay_once() == 0
    published = await messages_for(js, user)
    assert [e.id for e in published] == [event.id]
    assert isinstance(published[0], MembershipActivated)


async def test_row_of_rolled_back_transaction_is_never_published(db, js: JetStreamContext) -> None:
    user = unique("u")
    with pytest.raises(RuntimeError):
        async with db.sessions() as session, session.begin():
            await outbox.add(session, db.outbox, activated(user))
            raise RuntimeError("the state change failed")
    relay = OutboxRelay(db.sessions, db.outbox, js)

    assert await relay.relay_once() == 0
    async with db.sessions() as session:
        assert (await session.execute(select(db.outbox.c.id))).all() == []
    assert await messages_for(js, user) == []


async def test_relay_crash_after_publish_republishes_and_is_deduplicated(
    db, js: JetStreamContext
) -> None:
    user = unique("u")
    event = activated(user)
    async with db.sessions() as session, session.begin():
        await outbox.add(session, db.outbox, event)

    # A relay published the row and died before marking it (its transaction rolled back).
    async with db.sessions() as session:
        row = (await session.execute(select(db.outbox))).one()
    await publish_with_ack(js, row.subject, row.payload, msg_id=row.message_id, stream=DOMAIN.name)
    assert [e.id for e in await messages_for(js, user)] == [event.id]

    healthy = OutboxRelay(db.sessions, db.outbox, js)
    assert await healthy.relay_once() == 1
    async with db.sessions() as session:
        row = (await session.execute(select(db.outbox.c.published_at))).one()
        assert row.published_at is not None
    assert [e.id for e in await messages_for(js, user)] == [event.id]


async def test_rows_stay_unpublished_when_a_publish_fails(db, js: JetStreamContext) -> None:
    user = unique("u")
    event = activated(user)
    async with db.sessions() as session, session.begin():
        await outbox.add(session, db.outbox, event)
        # No stream takes this subject: JetStream cannot ack it.
        await session.execute(
            db.outbox.insert().values(message_id=unique("m"), subject="nowhere.x", payload=b"{}")
        )
    relay = OutboxRelay(db.sessions, db.outbox, js)

    with pytest.raises(nats.js.errors.NoStreamResponseError):
        await relay.relay_once()
    async with db.sessions() as session:
        rows = (await session.execute(select(db.outbox.c.published_at, db.outbox.c.attempts))).all()
    assert [(r.published_at, r.attempts) for r in rows] == [(None, 0), (None, 0)]

    async with db.sessions() as session, session.begin():
        await session.execute(db.outbox.delete().where(db.outbox.c.subject == "nowhere.x"))
    assert await relay.relay_once() == 1
    assert [e.id for e in await messages_for(js, user)] == [event.id]


async def test_several_relays_share_rows_without_doubles(db, js: JetStreamContext) -> None:
    user = unique("u")
    events = [activated(user) for _ in range(30)]
    async with db.sessions() as session, session.begin():
        for event in events:
            await outbox.add(session, db.outbox, event)
    relays = [OutboxRelay(db.sessions, db.outbox, js, batch_size=5) for _ in range(3)]
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


async def test_insert_once_queues_new_events_in_order_and_skips_queued_ones(db) -> None:
    """As one statement: one event's parameters, or several events' arrays, in their order."""
    user = unique("u")
    first, second, third = activated(user), activated(user), activated(user)
    one = DriverStatement.of(outbox.insert_once(db.outbox))
    several = DriverStatement.of(outbox.insert_once(db.outbox, count=3))
    async with db.sessions() as session, session.begin():
        assert len(await one.run(session, outbox.driver_rows([second]))) == 1
        assert len(await one.run(session, outbox.driver_rows([second]))) == 0
        queued = await several.run(session, outbox.driver_rows([third, second, first]))
        assert len(queued) == 2
        rows = await session.execute(
            select(db.outbox.c.message_id, db.outbox.c.headers).order_by(db.outbox.c.id)
        )
        found = rows.all()
    assert [message_id for message_id, _ in found] == [second.id, third.id, first.id]
    assert all(headers["Tollgate-Event-Version"] == "1" for _, headers in found)


async def test_add_many_queues_several_events_once_in_one_statement(db) -> None:
    user = unique("u")
    first, second, third = activated(user), activated(user), activated(user)
    async with db.sessions() as session, session.begin():
        assert await outbox.add_many(session, db.outbox, []) == 0
        assert not outbox.queued(session)
        assert await outbox.add_many(session, db.outbox, [first]) == 1
        assert outbox.queued(session)
        assert await outbox.add_many(session, db.outbox, [second, first, third]) == 2
        rows = await session.execute(
            select(db.outbox.c.message_id, db.outbox.c.payload)
            .where(db.outbox.c.message_id.in_([first.id, second.id, third.id]))
            .order_by(db.outbox.c.id)
        )
        found = rows.all()
    assert [message_id for message_id, _ in found] == [first.id, second.id, third.id]
    assert [parse_domain_event(payload).id for _, payload in found] == [
        first.id,
        second.id,
        third.id,
    ]
