"""The fee task lists each balance transaction about once: a round after the first lists only
what it has not listed whole, and a payment booked after its balance transaction was listed (its
events late) finds its fee without a listing. The task runs on a database and an API key of its
own here, so the emulator's count of that key's requests is the task's alone."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from ledger.adapters import orm
from ledger.adapters.stripe_gateway import StripeGateway
from ledger.config import Settings
from ledger.main import MIGRATIONS
from ledger.service_layer import Deps, fees, joins
from ledger.service_layer.unit_of_work import LedgerUnitOfWork as Unit
from tollgate_shared.contracts.stripe import StripeEvent
from tollgate_shared.infra.stripe_client import make_stripe_client
from tollgate_shared.messaging.outbox import Outbox
from tollgate_shared.persistence.unit_of_work import units_of_work
from tollgate_shared.testing import StripeWorld, sessions_on, unique

PAGES = "GET /v1/balance_transactions"


@pytest.fixture
async def deps(
    settings: Settings, migrated_database: Callable[[Path], str]
) -> AsyncIterator[tuple[Deps, Settings]]:
    """The fee task's dependencies on a fresh database and an API key of their own."""
    own = settings.model_copy(
        update={
            "service_database_url": migrated_database(MIGRATIONS),
            "stripe_secret_key": unique("sk_test_fees"),
        }
    )
    async with sessions_on(own.sqlalchemy_url) as sessions:
        units = units_of_work(Unit, sessions, outbox=Outbox(orm.outbox))
        yield Deps(stripe=StripeGateway(make_stripe_client(own)), uow=units), own


async def _pages(world: StripeWorld, key: str) -> int:
    answer = await world.http.get(f"{world.emulator_url}/_emulator/usage", params={"api_key": key})
    return int(answer.json()["endpoints"].get(PAGES, 0))


async def _bought(world: StripeWorld, price: str) -> dict[str, Any]:
    """A one-off payment at the emulator: its `charge.succeeded` event, taken (not sent)."""
    await world.checkout(price, group_id=unique("grp"), user_id=unique("u"))
    [event] = await world.take("charge.succeeded")
    await world.take()
    return event


async def _book(deps: Deps, *events: dict[str, Any]) -> None:
    async with deps.uow() as uow:
        for event in events:
            await joins.on_charge(deps, uow, StripeEvent.model_validate(event))
        await uow.commit()


async def test_a_round_after_the_first_lists_only_what_is_new(
    world: StripeWorld, deps: tuple[Deps, Settings]
) -> None:
    task, own = deps
    price = await world.price(1300)
    first, *late = [await _bought(world, price) for _ in range(3)]
    listed = fees.Listed()

    await _book(task, first)
    assert await fees.book_fees(task, listed=listed) == 1
    pages = await _pages(world, own.stripe_secret_key)
    assert pages >= 1

    # Their events came late: their balance transactions were listed by the first round.
    await _book(task, *late)
    assert await fees.book_fees(task, listed=listed) == 2
    assert await _pages(world, own.stripe_secret_key) == pages

    async with task.uow() as uow:
        for event in (first, *late):
            charge = event["data"]["object"]
            payment = await uow.books.get_payment(charge["id"])
            txn = await task.stripe.balance_transaction(charge["balance_transaction"])
            assert payment is not None and payment.fee == txn.fee > 0

    # A new payment: one page, of what was created since (and the last few seconds again).
    await _book(task, await _bought(world, price))
    assert await fees.book_fees(task, listed=listed) == 1
    assert await _pages(world, own.stripe_secret_key) == pages + 1
