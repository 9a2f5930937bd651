"""Two fetches of domain events applied side by side over the same one-time members, in
opposite orders: neither deadlocks on their terms (so neither is applied again one message at
a time), and every effect happens once.

The first fetch is parked on a term the test keeps locked, after it wrote its first member's
term, until the second fetch is waiting too: written as the handlers went, the second would
now hold the term the first needs next, and the first the term the second waits for. With the
terms locked up front in one order, the second waits for the first to commit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from nats.js import JetStreamContext
from sqlalchemy import func, insert, select

from notifications import bootstrap
from notifications.adapters import orm
from notifications.config import Settings
from notifications.main import MIGRATIONS
from tollgate_shared.contracts.base import DomainEvent
from tollgate_shared.contracts.membership import MembershipActivated, MembershipRevoked
from tollgate_shared.messaging.consumer import IdempotentConsumer
from tollgate_shared.messaging.streams import DOMAIN
from tollgate_shared.testing import (
    MailSink,
    as_fetches,
    crossing_fetches,
    publish_domain_event,
    sessions_on,
    unique,
)

from .conftest import SECRET


@pytest.fixture
def own_database(migrated_database: Callable[[Path], str]) -> str:
    return migrated_database(MIGRATIONS)


@pytest.fixture
async def consumer(
    nats_url: str, mail_sink: MailSink, own_database: str
) -> AsyncIterator[IdempotentConsumer]:
    """Notifications' DOMAIN consumer, as its bootstrap builds it, on a database of its own."""
    settings = Settings(
        service_name="notifications",
        nats_url=nats_url,
        service_database_url=own_database,
        smtp_url=mail_sink.smtp_url,
        auth_jwt_secret=SECRET,
    )
    runtime = bootstrap.build(settings).runtime
    [found] = [c for c in runtime.consumers if c.spec.stream == DOMAIN]
    yield found
    assert runtime.engine is not None
    await runtime.engine.dispose()


async def test_fetches_over_the_same_terms_in_opposite_orders_do_not_deadlock(
    consumer: IdempotentConsumer, own_database: str, js: JetStreamContext
) -> None:
    group = unique("grp")
    m1, m2, m3 = (unique("usr") for _ in range(3))
    expires = datetime.now(UTC) + timedelta(days=365)

    def term(user: str) -> dict[str, object]:
        email = f"{user}@example.com"
        return {"user_id": user, "group_id": group, "source": "one_time", "email": email}

    def joined(user: str) -> DomainEvent:
        return MembershipActivated(**term(user), expires_at=expires)

    def refunded(user: str) -> DomainEvent:
        return MembershipRevoked(**term(user), reason="refunded")

    first, second = await as_fetches(
        js,
        consumer.spec,
        lambda event: publish_domain_event(js, event),
        [joined(m1), joined(m3), joined(m2)],
        [refunded(m2), refunded(m1)],
    )

    # m3's term held by the test: the first fetch, having written m1's, waits there before it
    # reaches m2's, which the second fetch writes first.
    hold = insert(orm.expiries).values(
        group_id=group, user_id=m3, expires_at=expires, as_of=datetime.now(UTC)
    )
    async with sessions_on(own_database) as sessions:
        batches = await crossing_fetches(consumer, sessions, first, second, hold=hold)

        assert [[fresh for _, fresh in batch.done] for batch in batches] == [[True] * 3, [True] * 2]
        assert [batch.failed for batch in batches] == [[], []]
        e, n = orm.expiries, orm.notifications
        async with sessions() as session:
            ended = dict((await session.execute(select(e.c.user_id, e.c.ended))).all())
            kinds = (await session.execute(select(n.c.kind, func.count()).group_by(n.c.kind))).all()
        assert ended == {m1: True, m2: True, m3: False}
        assert dict(kinds) == {"membership_ended": 2}
