"""The idempotent consumer against real NATS JetStream and real Postgres."""

import asyncio

import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from sqlalchemy import select, text

from tollgate_shared.contracts.membership import MembershipActivated
from tollgate_shared.infra.stripe_budget import StripeBusy
from tollgate_shared.messaging import inbox
from tollgate_shared.messaging.consumer import IdempotentConsumer
from tollgate_shared.messaging.message import Incoming, PermanentError
from tollgate_shared.messaging.outbox import Outbox
from tollgate_shared.messaging.publish import ORIGINAL_MSG_ID, publish_with_ack
from tollgate_shared.messaging.streams import (
    DLQ,
    STRIPE,
    ConsumerSpec,
    dlq_subject,
    subject_matches,
)
from tollgate_shared.persistence.unit_of_work import Deferred, UnitOfWork, units_of_work
from tollgate_shared.testing import RawHandlers, RunningConsumers, consumer_idle, unique, wait_until


async def effects_of(db, message_id: str) -> list[str]:
    async with db.sessions() as session:
        rows = await session.execute(
            select(db.effects.c.body).where(db.effects.c.message_id == message_id)
        )
        return [r.body for r in rows]


async def run_consumer(nc: NatsClient, consumer: IdempotentConsumer) -> RunningConsumers:
    return await RunningConsumers.start(nc, consumer)


def spec_for(topic: str, **overrides) -> ConsumerSpec:
    defaults = dict(backoff=(0.05,), max_deliver=4)
    return ConsumerSpec(
        durable=unique("c"),
        stream=STRIPE,
        filter_subject=f"stripe.{topic}.>",
        **(defaults | overrides),
    )


async def test_failure_mid_transaction_redelivers_and_commits_once(
    db, nats_url: str, js: JetStreamContext, nats_client: NatsClient
) -> None:
    topic = unique("t")
    attempts: list[int] = []

    async def handler(uow: UnitOfWork, incoming: Incoming) -> None:
        attempts.append(incoming.delivered)
        await uow.session.execute(
            db.effects.insert().values(message_id=incoming.message_id, body=incoming.data.decode())
        )
        if len(attempts) == 1:
            raise ConnectionError("database went away mid-transaction")

    consumer = IdempotentConsumer(spec_for(topic), RawHandlers(handler), db.units, db.inbox)
    broker = await run_consumer(nats_client, consumer)
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
    db, nats_url: str, js: JetStreamContext, nats_client: NatsClient
) -> None:
    """The effect committed but the ack was lost: the redelivery is recognised and acked."""
    topic = unique("t")
    subject = f"stripe.{topic}.x"
    calls: list[str] = []

    async def handler(uow: UnitOfWork, incoming: Incoming) -> None:
        calls.append(incoming.message_id)
        await uow.session.execute(
            db.effects.insert().values(message_id=incoming.message_id, body="once")
        )

    consumer = IdempotentConsumer(spec_for(topic), RawHandlers(handler), db.units, db.inbox)
    event_id = unique("evt")
    async with db.units() as uow:  # the effect and its inbox row, committed
        claimed = [(event_id, subject)]
        await inbox.claim(uow, db.inbox, consumer=consumer.spec.durable, messages=claimed)
        await uow.session.execute(db.effects.insert().values(message_id=event_id, body="once"))
        await uow.commit()
    broker = await run_consumer(nats_client, consumer)
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
        assert calls == []
        assert await effects_of(db, event_id) == ["once"]
    finally:
        await broker.stop()


async def test_poison_message_goes_to_dlq_with_reason(
    db, nats_url: str, js: JetStreamContext, nats_client: NatsClient
) -> None:
    topic = unique("t")

    async def handler(uow: UnitOfWork, incoming: Incoming) -> None:
        raise PermanentError("unknown tier")

    consumer = IdempotentConsumer(spec_for(topic), RawHandlers(handler), db.units, db.inbox)
    broker = await run_consumer(nats_client, consumer)
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


async def test_exhausted_retries_go_to_dlq(
    db, nats_url: str, js: JetStreamContext, nats_client: NatsClient
) -> None:
    topic = unique("t")
    attempts: list[int] = []

    async def handler(uow: UnitOfWork, incoming: Incoming) -> None:
        attempts.append(incoming.delivered)
        raise RuntimeError("always failing")

    consumer = IdempotentConsumer(
        spec_for(topic, max_deliver=3), RawHandlers(handler), db.units, db.inbox
    )
    broker = await run_consumer(nats_client, consumer)
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


async def test_a_postponed_message_waits_past_max_deliver_and_is_applied_once(
    db, js: JetStreamContext, nats_client: NatsClient
) -> None:
    """A spent Stripe budget postpones a message as often as it takes: never a failure, never
    the DLQ; the others of its fetch are applied meanwhile, each once."""
    topic = unique("t")
    postponed: list[int] = []

    async def handler(uow: UnitOfWork, incoming: Incoming) -> None:
        if incoming.data == b"needs-stripe" and len(postponed) < 6:
            postponed.append(incoming.delivered)
            raise StripeBusy("budget spent", retry_after=0.05)
        await uow.session.execute(
            db.effects.insert().values(message_id=incoming.message_id, body=incoming.data.decode())
        )

    spec = spec_for(topic, max_deliver=2, savepoints=False)
    consumer = IdempotentConsumer(spec, RawHandlers(handler), db.units, db.inbox)
    ids = [unique("evt") for _ in range(4)]
    for i, event_id in enumerate(ids):
        body = b"needs-stripe" if i == 1 else b"free"
        await publish_with_ack(js, f"stripe.{topic}.x", body, msg_id=event_id, stream="STRIPE")
    broker = await run_consumer(nats_client, consumer)
    try:
        await wait_until(
            lambda: consumer_idle(js, STRIPE.name, spec.durable), message="all acked", timeout=30
        )
        for i, event_id in enumerate(ids):
            assert await effects_of(db, event_id) == ["needs-stripe" if i == 1 else "free"]
        assert len(postponed) == 6 and max(postponed) > spec.max_deliver
        parked = await js.stream_info(DLQ.name, subjects_filter=f"dlq.{spec.durable}.>")
        assert not parked.state.subjects
    finally:
        await broker.stop()


async def test_a_backlog_is_applied_in_batches_and_a_bad_message_is_split_out(
    db, js: JetStreamContext, nats_client: NatsClient
) -> None:
    """A fetch commits together; a message failing in it is rolled back alone and processed on
    its own: every good one applied once, the bad one parked on the DLQ with its reason."""
    topic = unique("t")
    subject = f"stripe.{topic}.x"
    units: list[UnitOfWork] = []  # held, so no two units share an id()
    calls: list[str] = []
    poison, flaky = unique("poison"), unique("flaky")

    async def handler(uow: UnitOfWork, incoming: Incoming) -> None:
        units.append(uow)
        calls.append(incoming.message_id)
        await uow.session.execute(
            db.effects.insert().values(message_id=incoming.message_id, body=incoming.data.decode())
        )
        if incoming.message_id == poison:
            raise PermanentError("unknown tier")
        if incoming.message_id == flaky and calls.count(flaky) == 1:
            await uow.session.execute(text("SELECT 1/0"))  # aborts the transaction, once

    async def backlog(ids: list[str]) -> None:
        for event_id in ids:
            await publish_with_ack(js, subject, b"ok", msg_id=event_id, stream="STRIPE")

    consumer = IdempotentConsumer(spec_for(topic), RawHandlers(handler), db.units, db.inbox)
    dlq = await js.subscribe(dlq_subject(consumer.spec.durable, subject), stream=DLQ.name)
    first = [unique("evt") for _ in range(40)]
    await backlog(first)
    # The same event again under a replay's original id: recognised within the batch.
    await publish_with_ack(
        js, subject, b"ok", msg_id=unique("r"), stream="STRIPE", headers={ORIGINAL_MSG_ID: first[3]}
    )
    broker = await run_consumer(nats_client, consumer)
    await wait_until(lambda: consumer_idle(js, STRIPE.name, consumer.spec.durable), message="idle")
    await broker.stop()
    for event_id in first:
        assert await effects_of(db, event_id) == ["ok"]
    assert len(units) == len(first)
    assert len({id(u) for u in units}) <= len(first) / 4  # a few fetches, a commit each

    second = [unique("evt") for _ in range(5)] + [poison, flaky] + [unique("evt") for _ in range(5)]
    await backlog(second)
    broker = await run_consumer(nats_client, consumer)
    try:
        parked = await dlq.next_msg(timeout=15)
        assert parked.headers["Tollgate-Original-Msg-Id"] == poison
        await wait_until(
            lambda: consumer_idle(js, STRIPE.name, consumer.spec.durable), message="drained"
        )
        for event_id in second:
            assert await effects_of(db, event_id) == ([] if event_id == poison else ["ok"])
        # The others of the fetch were applied once, not again after a failure (a handler's
        # Stripe call is not repeated); the failing two in the fetch, then alone.
        assert {i: calls.count(i) for i in second} == {
            i: 2 if i in (poison, flaky) else 1 for i in second
        }
    finally:
        await dlq.unsubscribe()
        await broker.stop()


async def test_without_savepoints_a_failure_reapplies_the_fetch_one_by_one(
    db, js: JetStreamContext, nats_client: NatsClient
) -> None:
    """For handlers that only write to the database: no savepoint per message; a message
    failing rolls back its whole fetch, and every message is then applied on its own, once."""
    topic = unique("t")
    subject = f"stripe.{topic}.x"
    calls: list[str] = []
    poison = unique("poison")

    async def handler(uow: UnitOfWork, incoming: Incoming) -> None:
        calls.append(incoming.message_id)
        await uow.session.execute(
            db.effects.insert().values(message_id=incoming.message_id, body=incoming.data.decode())
        )
        if incoming.message_id == poison:
            raise PermanentError("unknown tier")

    before = [unique("evt") for _ in range(5)]
    after = [unique("evt") for _ in range(5)]
    for event_id in [*before, poison, *after]:  # stored first: one fetch holds them all
        await publish_with_ack(js, subject, b"ok", msg_id=event_id, stream="STRIPE")
    consumer = IdempotentConsumer(
        spec_for(topic, savepoints=False), RawHandlers(handler), db.units, db.inbox
    )
    dlq = await js.subscribe(dlq_subject(consumer.spec.durable, subject), stream=DLQ.name)
    broker = await run_consumer(nats_client, consumer)
    try:
        parked = await dlq.next_msg(timeout=15)
        assert parked.headers["Tollgate-Original-Msg-Id"] == poison
        await wait_until(
            lambda: consumer_idle(js, STRIPE.name, consumer.spec.durable), message="drained"
        )
        for event_id in [*before, *after]:
            assert await effects_of(db, event_id) == ["ok"]
        assert await effects_of(db, poison) == []
        # Those before the poison ran in the rolled-back fetch, then again on their own.
        assert [calls.count(i) for i in before] == [2] * 5
        assert [calls.count(i) for i in after] == [1] * 5
    finally:
        await dlq.unsubscribe()
        await broker.stop()


async def test_deferred_writes_are_made_once_per_transaction_before_the_commit(
    db, js: JetStreamContext, nats_client: NatsClient
) -> None:
    """Handlers queue, the unit of work writes the queue before it commits: one row per
    transaction, holding what its handlers saw. A failing fetch writes nothing; its messages,
    applied again one by one, each write their own."""
    topic = unique("t")
    subject = f"stripe.{topic}.x"
    poison = unique("poison")

    async def write(uow: UnitOfWork, queue: list[str]) -> None:
        await uow.session.execute(
            db.effects.insert().values(message_id="deferred", body=",".join(queue))
        )

    seen = Deferred(list, write)

    async def handler(uow: UnitOfWork, incoming: Incoming) -> None:
        uow.deferred(seen).append(incoming.message_id)
        if incoming.message_id == poison:
            raise PermanentError("unknown tier")

    first = [unique("evt") for _ in range(3)]
    second = [unique("evt"), poison, unique("evt")]
    consumer = IdempotentConsumer(
        spec_for(topic, savepoints=False), RawHandlers(handler), db.units, db.inbox
    )
    for event_id in first:  # stored first: one fetch holds them all
        await publish_with_ack(js, subject, b"ok", msg_id=event_id, stream="STRIPE")
    broker = await run_consumer(nats_client, consumer)
    try:
        await wait_until(lambda: consumer_idle(js, STRIPE.name, consumer.spec.durable), message="1")
        assert await effects_of(db, "deferred") == [",".join(first)]
    finally:
        await broker.stop()

    for event_id in second:
        await publish_with_ack(js, subject, b"ok", msg_id=event_id, stream="STRIPE")
    broker = await run_consumer(nats_client, consumer)
    try:
        await wait_until(lambda: consumer_idle(js, STRIPE.name, consumer.spec.durable), message="2")
        # The fetch with the poison wrote nothing; the good two were then applied alone.
        assert sorted(await effects_of(db, "deferred")) == sorted(
            [",".join(first), second[0], second[2]]
        )
    finally:
        await broker.stop()


async def test_messages_the_prefetch_finds_need_nothing_are_acked_without_their_handler(
    db, js: JetStreamContext, nats_client: NatsClient
) -> None:
    """Another app's events, told apart by the prefetch, cost their fetch no handler and no
    savepoint; the fetch's own are applied, each once, and a redelivery is a duplicate."""
    topic = unique("t")
    handled: list[str] = []
    savepoints: list[int] = []

    async def prefetch(uow: UnitOfWork, incomings: list[Incoming]) -> list[Incoming]:
        return [i for i in incomings if i.data == b"foreign"]

    async def handler(uow: UnitOfWork, incoming: Incoming) -> None:
        handled.append(incoming.message_id)
        await uow.session.execute(
            db.effects.insert().values(message_id=incoming.message_id, body=incoming.data.decode())
        )

    consumer = IdempotentConsumer(
        spec_for(topic), RawHandlers(handler, prefetch=prefetch), db.units, db.inbox
    )
    real_savepoint = consumer.applier._apply_in

    async def counting(uow: UnitOfWork, delivery) -> bool:
        savepoints.append(1)
        return await real_savepoint(uow, delivery)

    consumer.applier._apply_in = counting  # type: ignore[method-assign]
    bodies = [b"ours", b"foreign", b"foreign", b"ours"]
    ids = [unique("evt") for _ in bodies]
    for event_id, body in zip(ids, bodies, strict=True):
        await publish_with_ack(js, f"stripe.{topic}.x", body, msg_id=event_id, stream="STRIPE")
    broker = await run_consumer(nats_client, consumer)
    try:
        await wait_until(lambda: consumer_idle(js, STRIPE.name, consumer.spec.durable), message="1")
        assert sorted(handled) == sorted([ids[0], ids[3]]) and len(savepoints) == 2
        for event_id, body in zip(ids, bodies, strict=True):
            assert await effects_of(db, event_id) == (["ours"] if body == b"ours" else [])
        await publish_with_ack(  # the same foreign event again, as a rewind delivers it
            js,
            f"stripe.{topic}.x",
            b"foreign",
            msg_id=unique("copy"),
            headers={ORIGINAL_MSG_ID: ids[1]},
            stream="STRIPE",
        )
        await wait_until(lambda: consumer_idle(js, STRIPE.name, consumer.spec.durable), message="2")
        assert len(handled) == 2
        async with db.sessions() as session:
            claimed = await session.scalar(
                select(db.inbox.c.message_id).where(
                    db.inbox.c.consumer == consumer.spec.durable, db.inbox.c.message_id == ids[1]
                )
            )
        assert claimed == ids[1]  # taken once, so its copy was a duplicate
    finally:
        await broker.stop()


async def test_a_prefetch_runs_before_a_fetchs_handlers_and_what_it_takes_outlives_savepoints(
    db, js: JetStreamContext, nats_client: NatsClient
) -> None:
    """The prefetch sees the fresh messages of a fetch (not one applied before, nor a second
    copy), before their handlers; a lock it takes is still held after a message was rolled
    back to its savepoint. A message applied on its own gets its own prefetch, in its own
    transaction (so that it takes the same locks first)."""
    topic = unique("t")
    subject = f"stripe.{topic}.x"
    lock_id = abs(hash(topic)) % 2**31
    events: list[tuple[str, object]] = []
    flaky = unique("flaky")

    async def prefetch(uow: UnitOfWork, incomings: list[Incoming]) -> None:
        events.append(("prefetch", [i.message_id for i in incomings]))
        await uow.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_id})

    async def handler(uow: UnitOfWork, incoming: Incoming) -> None:
        held = await uow.session.scalar(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND pid = pg_backend_pid() AND objid = :k"
            ),
            {"k": lock_id},
        )
        events.append((incoming.message_id, held))
        if incoming.message_id == flaky and sum(1 for e, _ in events if e == flaky) == 1:
            raise RuntimeError("once")

    async def publish(event_id: str, **headers: str) -> None:
        await publish_with_ack(
            js,
            subject,
            b"ok",
            msg_id=unique("m"),
            stream="STRIPE",
            headers={ORIGINAL_MSG_ID: event_id, **headers},
        )

    consumer = IdempotentConsumer(
        spec_for(topic), RawHandlers(handler, prefetch=prefetch), db.units, db.inbox
    )
    applied_before, a, b = unique("evt"), unique("evt"), unique("evt")
    await publish(applied_before)
    broker = await run_consumer(nats_client, consumer)
    await wait_until(lambda: consumer_idle(js, STRIPE.name, consumer.spec.durable), message="1")
    await broker.stop()
    events.clear()

    for event_id in (applied_before, a, flaky, a, b):  # stored first: one fetch holds them all
        await publish(event_id)
    broker = await run_consumer(nats_client, consumer)
    try:
        await wait_until(lambda: consumer_idle(js, STRIPE.name, consumer.spec.durable), message="2")
    finally:
        await broker.stop()
    assert events == [
        ("prefetch", [a, flaky, b]),
        (a, 1),
        (flaky, 1),
        (b, 1),  # after the flaky one was rolled back to its savepoint
        ("prefetch", [flaky]),  # on its own, in a transaction of its own
        (flaky, 1),
    ]


async def test_two_fetches_are_applied_side_by_side_each_message_once(
    db, nats_url: str, js: JetStreamContext, nats_client: NatsClient
) -> None:
    """The first message's transaction waits until the second message is being applied, which
    only a second fetch in flight can do; both commit, each once."""
    topic = unique("t")
    first_waiting, second_seen = asyncio.Event(), asyncio.Event()
    applied: list[str] = []

    async def handler(uow: UnitOfWork, incoming: Incoming) -> None:
        applied.append(incoming.message_id)
        await uow.session.execute(
            db.effects.insert().values(message_id=incoming.message_id, body=incoming.data.decode())
        )
        if incoming.data == b"first":
            first_waiting.set()
            await asyncio.wait_for(second_seen.wait(), timeout=10)
        else:
            second_seen.set()

    consumer = IdempotentConsumer(
        spec_for(topic, fetches_in_flight=2), RawHandlers(handler), db.units, db.inbox
    )
    broker = await run_consumer(nats_client, consumer)
    try:
        first, second = unique("evt"), unique("evt")
        await publish_with_ack(js, f"stripe.{topic}.x", b"first", msg_id=first, stream="STRIPE")
        await wait_until(first_waiting.is_set, message="first message being applied")
        await publish_with_ack(js, f"stripe.{topic}.x", b"second", msg_id=second, stream="STRIPE")
        await wait_until(
            lambda: consumer_idle(js, STRIPE.name, consumer.spec.durable), message="both acked"
        )
        assert await effects_of(db, first) == ["first"]
        assert await effects_of(db, second) == ["second"]
        assert sorted(applied) == sorted([first, second])
    finally:
        await broker.stop()


async def _lone_then_three(
    db, js: JetStreamContext, nats_client: NatsClient, *, hold_lone: bool, **spec: float
) -> dict[bytes, int]:
    """Publish a lone message, then three more — while the lone one is still being applied
    (`hold_lone`), or once it is acked — to a consumer of `spec`; each one's transaction id."""
    topic = unique("t")
    release = asyncio.Event()
    transaction_of: dict[bytes, int] = {}

    async def handler(uow: UnitOfWork, incoming: Incoming) -> None:
        txid = (await uow.session.execute(text("SELECT txid_current()"))).scalar_one()
        transaction_of[incoming.data] = txid
        if hold_lone and incoming.data == b"lone":
            await asyncio.wait_for(release.wait(), timeout=10)

    consumer = IdempotentConsumer(spec_for(topic, **spec), RawHandlers(handler), db.units, db.inbox)

    async def idle() -> bool:
        return await consumer_idle(js, STRIPE.name, consumer.spec.durable)

    broker = await run_consumer(nats_client, consumer)
    try:

        async def publish(body: bytes) -> None:
            await publish_with_ack(
                js, f"stripe.{topic}.x", body, msg_id=unique("evt"), stream="STRIPE"
            )

        await publish(b"lone")
        if hold_lone:
            await wait_until(lambda: b"lone" in transaction_of, message="lone message applying")
        else:
            await wait_until(idle, message="lone acked")
        for body in (b"a", b"b", b"c"):
            await publish(body)
        release.set()
        await wait_until(idle, message="all acked")
    finally:
        await broker.stop()
    return transaction_of


async def test_a_consumer_that_caught_up_gathers_what_arrives_during_a_fetch(
    db, nats_url: str, js: JetStreamContext, nats_client: NatsClient
) -> None:
    """While a lone message is being applied, three more arrive: they are fetched together
    once it is done and applied in one transaction, not one fetch each as they came."""
    transaction_of = await _lone_then_three(
        db, js, nats_client, hold_lone=True, linger_seconds=10.0
    )
    assert len({transaction_of[body] for body in (b"a", b"b", b"c")}) == 1
    assert transaction_of[b"a"] != transaction_of[b"lone"]


async def test_a_gathering_consumer_applies_what_arrives_after_a_fetch_in_one_transaction(
    db, nats_url: str, js: JetStreamContext, nats_client: NatsClient
) -> None:
    """A lone message is applied as soon as it arrives; three that follow within the gather
    window are fetched together after it and applied in one transaction, although the lone
    one was done before they came (no linger holds the consumer back)."""
    transaction_of = await _lone_then_three(
        db, js, nats_client, hold_lone=False, linger_seconds=0.0, gather_seconds=2.0
    )
    assert len({transaction_of[body] for body in (b"a", b"b", b"c")}) == 1
    assert transaction_of[b"a"] != transaction_of[b"lone"]


async def test_the_relay_is_woken_only_by_commits_that_queued_events(
    db, nats_url: str, js: JetStreamContext, nats_client: NatsClient
) -> None:
    """A message whose handler queues an outbox event wakes the relay after its commit; one
    whose handler writes only its own rows does not (its commit gives the relay nothing)."""
    topic = unique("t")
    wakes: list[str] = []
    applied: list[str] = []

    class Counted(Outbox):
        def wake(self) -> None:
            wakes.append("")

    async def handler(uow: UnitOfWork, incoming: Incoming) -> None:
        if incoming.data == b"announce":
            uow.emit(MembershipActivated(user_id=unique("u"), group_id="g1", tier_id="t1"))
        applied.append(incoming.message_id)

    units = units_of_work(UnitOfWork, db.sessions, outbox=Counted(db.outbox))
    consumer = IdempotentConsumer(spec_for(topic), RawHandlers(handler), units, db.inbox)
    broker = await run_consumer(nats_client, consumer)
    try:
        for body, expected_wakes in ((b"quiet", 0), (b"announce", 1), (b"quiet", 1)):
            msg_id = unique("evt")
            await publish_with_ack(js, f"stripe.{topic}.x", body, msg_id=msg_id, stream="STRIPE")
            await wait_until(lambda m=msg_id: m in applied, message=f"{body!r} applied")
            await wait_until(
                lambda: consumer_idle(js, STRIPE.name, consumer.spec.durable), message="acked"
            )
            assert len(wakes) == expected_wakes, body
    finally:
        await broker.stop()


async def test_a_durable_is_narrowed_to_its_subjects_and_keeps_its_position(
    db, nats_url: str, js: JetStreamContext, nats_client: NatsClient
) -> None:
    """A consumer given subjects asks the server for those only. An existing durable on the
    broad filter is narrowed in place: what it applied is not delivered again, and what no
    handler wants is never delivered at all."""
    topic = unique("t")
    spec = spec_for(topic)
    seen: list[str] = []

    async def handler(uow: UnitOfWork, incoming: Incoming) -> None:
        seen.append(incoming.subject)

    async def publish(kind: str) -> None:
        subject = f"stripe.{topic}.{kind}"
        await publish_with_ack(js, subject, b"{}", msg_id=unique("evt"), stream="STRIPE")

    broad = IdempotentConsumer(spec, RawHandlers(handler), db.units, db.inbox)
    broker = await run_consumer(nats_client, broad)
    try:
        await publish("wanted")
        await wait_until(lambda: _is(seen, [f"stripe.{topic}.wanted"]), message="broad delivery")
        await wait_until(lambda: consumer_idle(js, STRIPE.name, spec.durable), message="acked")
    finally:
        await broker.stop()

    await publish("unwanted")
    await publish("wanted")
    narrow = IdempotentConsumer(
        spec, RawHandlers(handler, subjects=[f"stripe.{topic}.wanted"]), db.units, db.inbox
    )
    broker = await run_consumer(nats_client, narrow)
    try:
        await wait_until(lambda: _is(seen, [f"stripe.{topic}.wanted"] * 2), message="narrowed")
        await wait_until(lambda: consumer_idle(js, STRIPE.name, spec.durable), message="acked")
        info = await js.consumer_info(STRIPE.name, spec.durable)
        assert info.config.filter_subjects == [f"stripe.{topic}.wanted"]
        assert info.config.filter_subject in (None, "")
        assert info.delivered.consumer_seq == 2  # the unwanted message was never delivered
    finally:
        await broker.stop()
    assert seen == [f"stripe.{topic}.wanted"] * 2


async def _is(seen: list[str], expected: list[str]) -> bool:
    return seen == expected


def test_subjects_outside_the_declared_filter_are_refused() -> None:
    spec = spec_for("orders")
    assert spec.config(["stripe.orders.paid", "stripe.orders.a.b"]).filter_subjects == [
        "stripe.orders.a.b",
        "stripe.orders.paid",
    ]
    with pytest.raises(ValueError, match=r"stripe\.invoices\.paid"):
        spec.config(["stripe.orders.paid", "stripe.invoices.paid"])
    with pytest.raises(ValueError, match=r"'stripe\.orders'"):
        spec.config(["stripe.orders"])


@pytest.mark.parametrize(
    ("pattern", "subject", "matches"),
    [
        ("stripe.>", "stripe.invoice.paid", True),
        ("stripe.>", "stripe", False),
        ("stripe.*.paid", "stripe.invoice.paid", True),
        ("stripe.*.paid", "stripe.invoice.voided", False),
        ("stripe.*", "stripe.invoice.paid", False),
        ("membership.activated", "membership.activated", True),
        ("membership.activated", "membership.activated.x", False),
        (">", "notification.sent", True),
    ],
)
def test_subject_matches(pattern: str, subject: str, matches: bool) -> None:
    assert subject_matches(pattern, subject) is matches
