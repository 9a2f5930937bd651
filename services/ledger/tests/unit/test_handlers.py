"""The service layer's double-entry rules, driven through a fake unit of work: what each
Stripe event books on which account with which sign, once however often it comes, and what
the organizer is owed at the end.

The fakes keep the books in memory behind the repositories' interfaces (`AbstractBooks`,
`AbstractPayoutRequests`). Where the real repositories run hand-tuned SQL (a booking in one
statement, the read-ahead of a fetch, status upserts) the fakes keep only what those promise:
each transaction once by key, each payment once by charge, newer status news winning. That the
SQL keeps those promises is the integration tests' part (`tests/test_booking.py`,
`tests/test_ledger.py`), on Postgres.
"""

from __future__ import annotations

import copy
import itertools
from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Self, TypeVar

import pytest
import stripe

from ledger.adapters.parts import Part
from ledger.adapters.stripe_gateway import BookedPayout, BookedTransfer, StripeGateway
from ledger.domain.accounts import Account, Kind
from ledger.domain.errors import IdempotencyKeyReused, InsufficientBalance
from ledger.domain.payments import Payment
from ledger.domain.payouts import AUTO, PENDING, TRANSFERABLE, PayoutStatus
from ledger.domain.statuses import news
from ledger.domain.transactions import Transaction
from ledger.service_layer import (
    Deps,
    disbursements,
    disputes,
    failures,
    joins,
    payouts,
    refunds,
)
from ledger.service_layer.unit_of_work import LedgerUnitOfWork
from tollgate_shared.contracts.base import DomainEvent
from tollgate_shared.contracts.ledger import (
    DisputeClosed,
    DisputeOpened,
    PaymentRecorded,
    PayoutRecorded,
    RefundRecorded,
)
from tollgate_shared.contracts.stripe import StripeEvent

NOW = 1_780_000_000
A = Account
GROUP = "grp_1"
E = TypeVar("E", bound=DomainEvent)


@dataclass
class Store:
    """The ledger's tables as the fakes keep them (entries are their transactions' postings)."""

    transactions: dict[str, Transaction] = field(default_factory=dict)
    payments: dict[str, Payment] = field(default_factory=dict)
    statuses: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    parts: dict[tuple[str, str], Part] = field(default_factory=dict)
    kept: dict[tuple[str, str], datetime] = field(default_factory=dict)
    """When each part was first kept (as `recorded_at`)."""
    timeline: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    outbox: dict[str, DomainEvent] = field(default_factory=dict)
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    schedules: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)

    def moved(self, group_id: str, currency: str) -> dict[Account, int]:
        """Each account's balance for a group in one currency (accounts at zero left out)."""
        moved: dict[Account, int] = defaultdict(int)
        for txn in self.transactions.values():
            for p in txn.postings:
                if txn.group_id == group_id and p.currency == currency:
                    moved[p.account] += p.amount
        return {account: amount for account, amount in moved.items() if amount}

    def emitted(self, kind: type[E]) -> list[E]:
        return [e for e in self.outbox.values() if isinstance(e, kind)]


class FakeBooks:
    """`AbstractBooks` in memory."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def post(
        self,
        *transactions: Transaction,
        causation_id: str | None,
        payment: Payment | None = None,
        causations: Mapping[str, str] | None = None,
    ) -> bool:
        booked = self._store.transactions
        first_is_new = transactions[0].key not in booked
        for txn in transactions:
            booked.setdefault(txn.key, txn)
        if payment is not None:
            self._store.payments.setdefault(payment.charge_id, payment)
        return first_is_new

    async def is_booked(self, key: str) -> bool:
        return key in self._store.transactions

    async def lock_group(self, group_id: str) -> None:
        """Nothing runs beside a unit test's unit of work."""

    async def account_balance(self, group_id: str, currency: str, account: Account) -> int:
        return self._store.moved(group_id, currency).get(account, 0)

    async def charge_account_total(self, charge_id: str, account: Account) -> int:
        charged = [t for t in self._store.transactions.values() if t.charge_id == charge_id]
        return sum(p.amount for t in charged for p in t.postings if p.account is account)

    async def booked_amount(self, *, source_id: str, kind: Kind) -> int:
        booked = self._store.transactions.values()
        return sum(t.amount for t in booked if t.source_id == source_id and t.kind is kind)

    async def read_ahead(self, names: Collection[str]) -> None:
        """`get_payment` reads the store as it is: nothing to read ahead."""

    async def get_payment(self, charge_id: str) -> Payment | None:
        return self._store.payments.get(charge_id)

    async def link_invoice(
        self, charge_id: str, *, invoice_id: str, hosted_url: str | None, pdf: str | None
    ) -> None:
        found = self._store.payments.get(charge_id)
        if found is not None and found.invoice_id is None:
            linked = replace(found, invoice_id=invoice_id, hosted_invoice_url=hosted_url)
            self._store.payments[charge_id] = replace(linked, invoice_pdf=pdf)

    async def upsert_status(
        self, table: Any, key_column: str, values: dict[str, Any], *, status_at: int
    ) -> bool:
        return self._keep_status((table.name, values[key_column]), values, status_at)

    def _keep_status(self, key: tuple[str, str], values: dict[str, Any], status_at: int) -> bool:
        told = news(values["status"], status_at)
        known = self._store.statuses.get(key)
        if known is None or known["news"] <= told:
            self._store.statuses[key] = {**values, "news": told}
        return known is None

    def note_invoice(self, values: dict[str, Any], *, status_at: int) -> None:
        self._keep_status(("invoices", values["invoice_id"]), values, status_at)

    async def add_timeline(self, **step: Any) -> None:
        self._store.timeline.setdefault((step["event_id"], step["object_id"]), step)

    async def claim(self, name: str) -> bool:
        return True

    async def refund_status(self, refund_id: str) -> str | None:
        found = self._store.statuses.get(("refunds", refund_id))
        return found["status"] if found else None

    async def payment_by_key(self, key: str) -> Payment | None:
        paid = self._store.payments.values()
        return next((p for p in paid if key in (p.payment_intent_id, p.charge_id)), None)

    async def payment_by_invoice(self, invoice_id: str) -> Payment | None:
        return next((p for p in self._store.payments.values() if p.invoice_id == invoice_id), None)

    async def payments_without_fee(self, limit: int, *, since: datetime) -> list[Payment]:
        return [p for p in self._store.payments.values() if p.fee is None][:limit]

    async def record_fees(self, fees: Sequence[tuple[Payment, int, str]]) -> int:
        known = 0
        for payment, fee, balance_transaction_id in fees:
            if fee:
                await self.post(
                    payment.fee_transaction(fee, balance_transaction_id), causation_id=None
                )
            before = self._store.payments[payment.charge_id]
            if before.fee is None:
                self._store.payments[payment.charge_id] = replace(before, fee=fee)
                known += 1
        return known


class FakeFailures:
    """`AbstractFailures` in memory."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def record(self, values: dict[str, Any]) -> None:
        known = self._store.failures.setdefault(values["failure_id"], dict(values))
        for key, value in values.items():
            if key in ("attempts", "failed_at"):
                known[key] = max(known[key], value)
            elif known.get(key) is None:
                known[key] = value

    async def add_details(self, failure_id: str, details: dict[str, Any]) -> None:
        if (known := self._store.failures.get(failure_id)) is not None:
            known.update({k: v for k, v in details.items() if known.get(k) is None})


class FakeParts:
    """`AbstractParts` in memory."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def put(
        self, kind: str, key: str, facts: dict[str, Any], *, partner: str | None = None
    ) -> None:
        self._store.parts[kind, key] = Part(kind, key, partner, facts)
        self._store.kept.setdefault((kind, key), datetime.now(UTC))

    async def read_ahead(self, kinds: Collection[str], keys: Collection[str]) -> list[Part]:
        """`get` reads the store as it is: nothing to read ahead but what is found."""
        return [p for (kind, key), p in self._store.parts.items() if kind in kinds and key in keys]

    async def read_partnered(self, kinds: Collection[str], partners: Collection[str]) -> None:
        """`partnered` reads the store as it is: nothing to read ahead."""

    async def get(self, kind: str, key: str) -> Part | None:
        return self._store.parts.get((kind, key))

    async def partnered(self, kind: str, partner: str) -> list[Part]:
        return [p for p in self._store.parts.values() if (p.kind, p.partner) == (kind, partner)]

    async def drop(self, parts: Iterable[tuple[str, str]]) -> None:
        for part in list(parts):
            self._store.parts.pop(part, None)
            self._store.kept.pop(part, None)

    async def prune(self, before: datetime) -> int:
        stale = [part for part, since in self._store.kept.items() if since < before]
        await self.drop(stale)
        return len(stale)


class FakePayoutRequests:
    """`AbstractPayoutRequests` in memory."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._ids = itertools.count(1)

    async def get(self, payout_id: str, *, lock: bool = False) -> dict[str, Any] | None:
        found = self._store.requests.get(payout_id)
        return dict(found) if found else None

    async def by_idempotency_key(self, group_id: str, key: str) -> dict[str, Any] | None:
        for request in self._store.requests.values():
            if (request["group_id"], request["idempotency_key"]) == (group_id, key):
                return dict(request)
        return None

    async def pending_total(self, group_id: str, currency: str) -> int:
        return sum(
            r["amount"]
            for r in self._store.requests.values()
            if (r["group_id"], r["currency"]) == (group_id, currency) and r["status"] in PENDING
        )

    async def add(self, **values: Any) -> dict[str, Any]:
        payout_id = f"payreq_{next(self._ids)}"
        self._store.requests[payout_id] = {
            "payout_id": payout_id,
            "status": PayoutStatus.REQUESTED,
            "decided_by": None,
            "destination_account": None,
            "transfer_id": None,
            "failure": None,
            "created_at": datetime.now(UTC),
            "decided_at": None,
            "attempts": 0,
            **values,
        }
        return dict(self._store.requests[payout_id])

    async def update(self, payout_id: str, **values: Any) -> dict[str, Any]:
        self._store.requests[payout_id].update(values)
        return dict(self._store.requests[payout_id])

    async def decide(
        self, payout_id: str, *, status: PayoutStatus, decided_by: str, **values: Any
    ) -> dict[str, Any]:
        decided = {"status": status, "decided_by": decided_by, "decided_at": datetime.now(UTC)}
        return await self.update(payout_id, **decided, **values)

    async def mark_paid(self, payout_id: str, *, transfer_id: str) -> None:
        request = self._store.requests[payout_id]
        if request["status"] in TRANSFERABLE:
            request.update(status=PayoutStatus.PAID, transfer_id=transfer_id)

    async def mark_failed(self, payout_id: str, *, failure: str) -> bool:
        request = self._store.requests[payout_id]
        if request["status"] != PayoutStatus.APPROVED:
            return False
        request.update(status=PayoutStatus.FAILED, failure=failure)
        return True

    async def get_schedule(self, group_id: str) -> dict[str, Any] | None:
        return self._store.schedules.get(group_id)

    async def claim_due_schedule(
        self, now: datetime, *, skip: Collection[str] = ()
    ) -> dict[str, Any] | None:
        due = [
            s
            for s in self._store.schedules.values()
            if s["interval"] != "manual"
            and s.get("next_due_at") is not None
            and s["next_due_at"] <= now
            and s["group_id"] not in skip
        ]
        return dict(min(due, key=lambda s: (s["next_due_at"], s["group_id"]))) if due else None

    async def move_schedule(self, group_id: str, next_due_at: datetime | None) -> None:
        self._store.schedules[group_id]["next_due_at"] = next_due_at

    async def auto_approved_unpaid(self, before: datetime, *, limit: int) -> list[str]:
        found = [
            r
            for r in self._store.requests.values()
            if r["status"] == PayoutStatus.APPROVED
            and r["decided_by"] == AUTO
            and r["decided_at"] < before
        ]
        return [r["payout_id"] for r in sorted(found, key=lambda r: r["decided_at"])][:limit]


class FakeGroups:
    """`AbstractGroups` in memory."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def apply(
        self, *, group_id: str, name: str, thresholds: dict[str, int], revision: int
    ) -> bool:
        kept = self._store.groups.get(group_id)
        if kept is not None and kept["revision"] >= revision:
            return False
        self._store.groups[group_id] = {
            "name": name,
            "thresholds": thresholds,
            "revision": revision,
        }
        return True

    async def thresholds(self, group_id: str) -> dict[str, int]:
        kept = self._store.groups.get(group_id)
        return {c: a for c, a in kept["thresholds"].items() if a > 0} if kept else {}


class FakeUnitOfWork(LedgerUnitOfWork):
    """The ledger's unit of work on the fake repositories, with no database behind it (the
    real one's constructor, which takes sessions, is not called). What a unit writes goes to
    the store at once and is put back when the unit ends without `commit`; an emitted event
    is kept once per id, as the outbox keeps it."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.books = FakeBooks(store)
        self.parts = FakeParts(store)
        self.payouts = FakePayoutRequests(store)
        self.failures = FakeFailures(store)
        self.groups = FakeGroups(store)
        self._before = store
        self._committed = False

    async def __aenter__(self) -> Self:
        self._before = copy.deepcopy(self.store)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if not self._committed:
            vars(self.store).update(vars(self._before))

    def emit(self, *events: DomainEvent) -> None:
        for event in events:
            self.store.outbox.setdefault(event.id, event)

    async def lock(self, *names: str) -> None:
        """Nothing runs beside a unit test's unit of work."""

    async def commit(self) -> None:
        self._committed = True


class FakeStripe(StripeGateway):
    """Stripe's objects as a test sets them (`put`), read back as the gateway reads them; no
    client behind it (the real constructor is not called), and only the calls these handlers
    make: a group's payout, a transfer."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.transfers: stripe.StripeError | None = None
        """What Stripe answers transfers with instead of making them (as the test sets it)."""

    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.objects[obj["id"]] = obj
        return obj

    async def payout(self, payout_id: str) -> BookedPayout:
        return BookedPayout.model_validate(self.objects[payout_id])

    async def create_transfer(self, **params: Any) -> BookedTransfer:
        if self.transfers is not None:
            raise self.transfers
        key = params.pop("idempotency_key")
        for earlier in self.objects.values():
            if earlier.get("idempotency_key") == key:
                return BookedTransfer.model_validate(earlier)
        made = {
            "idempotency_key": key,
            "id": f"tr_{len(self.objects)}",
            "object": "transfer",
            "created": NOW,
            **params,
        }
        return BookedTransfer.model_validate(self.put(made))

    async def transfer_in_group(self, transfer_group: str) -> BookedTransfer | None:
        for obj in self.objects.values():
            if obj.get("object") == "transfer" and obj.get("transfer_group") == transfer_group:
                return BookedTransfer.model_validate(obj)
        return None


Handler = Callable[[Deps, LedgerUnitOfWork, StripeEvent], Awaitable[None]]
_event_ids = itertools.count(1)


@dataclass
class Ledger:
    """The service layer on a store, with Stripe as the test sets it."""

    store: Store = field(default_factory=Store)
    stripe: FakeStripe = field(default_factory=FakeStripe)
    delivered: list[tuple[Handler, StripeEvent]] = field(default_factory=list)

    @property
    def deps(self) -> Deps:
        return Deps(stripe=self.stripe, uow=lambda: FakeUnitOfWork(self.store))

    async def apply(self, handler: Handler, event: StripeEvent) -> None:
        """Apply `event` as the consumer does: in a unit of work of its own, committed."""
        async with self.deps.uow() as uow:
            await handler(self.deps, uow, event)
            await uow.commit()
        self.delivered.append((handler, event))

    async def on(self, handler: Handler, event_type: str, obj: dict[str, Any]) -> StripeEvent:
        """Apply a new event of `event_type` about `obj`; the event, to deliver it again."""
        event = StripeEvent.model_validate(
            {
                "id": f"evt_{next(_event_ids)}",
                "type": event_type,
                "created": NOW,
                "livemode": False,
                "data": {"object": obj},
            }
        )
        await self.apply(handler, event)
        return event

    def moved(self, currency: str = "usd") -> dict[Account, int]:
        return self.store.moved(GROUP, currency)


@pytest.fixture
def ledger() -> Ledger:
    return Ledger()


def _charge(charge_id: str, amount: int, fee: int, currency: str = "usd") -> dict[str, Any]:
    """A succeeded charge of GROUP, its balance transaction (and fee) expanded."""
    return {
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "currency": currency,
        "status": "succeeded",
        "paid": True,
        "created": NOW,
        "payment_intent": f"pi_{charge_id}",
        "metadata": {"group_id": GROUP, "user_id": "usr_1"},
        "balance_transaction": {"id": f"txn_{charge_id}", "amount": amount, "fee": fee},
    }


async def _paid(
    ledger: Ledger, charge_id: str, amount: int, fee: int, currency: str = "usd"
) -> None:
    charge = ledger.stripe.put(_charge(charge_id, amount, fee, currency))
    await ledger.on(joins.on_charge, "charge.succeeded", charge)


def _refund(refund_id: str, charge_id: str, amount: int, status: str) -> dict[str, Any]:
    return {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "currency": "usd",
        "charge": charge_id,
        "status": status,
        "created": NOW,
    }


def _dispute(status: str, *movements: tuple[int, int]) -> dict[str, Any]:
    """A dispute of ch_1 and its balance transactions (amount, fee), in order."""
    return {
        "id": "dp_1",
        "object": "dispute",
        "amount": 10_000,
        "currency": "usd",
        "charge": "ch_1",
        "status": status,
        "reason": "fraudulent",
        "created": NOW,
        "balance_transactions": [
            {"id": f"txn_dp_{n}", "amount": amount, "fee": fee, "created": NOW}
            for n, (amount, fee) in enumerate(movements)
        ],
    }


def _disbursement(kind: str, object_id: str, amount: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": object_id,
        "object": kind,
        "amount": amount,
        "currency": "usd",
        "created": NOW,
        "metadata": {"group_id": GROUP},
        **fields,
    }


async def test_a_payment_books_its_gross_and_its_fee_and_is_announced(ledger: Ledger) -> None:
    await _paid(ledger, "ch_1", 10_000, 320)

    assert list(ledger.store.transactions) == ["payment:ch_1", "fee:ch_1"]
    assert ledger.moved() == {
        A.GROSS_REVENUE: -10_000,
        A.STRIPE_FEES: 320,
        A.PAYABLE_TO_ORGANIZER: 9_680,
    }
    [recorded] = ledger.store.emitted(PaymentRecorded)
    assert (recorded.group_id, recorded.amount, recorded.fee) == (GROUP, 10_000, 320)


async def test_a_refund_moves_payable_to_refunds_and_one_failed_after_booking_comes_back(
    ledger: Ledger,
) -> None:
    await _paid(ledger, "ch_1", 10_000, 320)
    refund = ledger.stripe.put(_refund("re_1", "ch_1", 2_500, "succeeded"))
    await ledger.on(refunds.on_refund_event, "refund.created", refund)

    assert ledger.moved()[A.REFUNDS] == 2_500
    assert ledger.moved()[A.PAYABLE_TO_ORGANIZER] == 9_680 - 2_500
    [recorded] = ledger.store.emitted(RefundRecorded)
    assert (recorded.refund_id, recorded.amount) == ("re_1", 2_500)

    refund["status"] = "failed"  # Stripe gave the money back to the balance
    failed = await ledger.on(refunds.on_refund_event, "refund.failed", refund)
    await ledger.apply(refunds.on_refund_event, failed)

    assert "refund_reversal:re_1" in ledger.store.transactions
    assert A.REFUNDS not in ledger.moved()
    assert ledger.moved()[A.PAYABLE_TO_ORGANIZER] == 9_680
    assert len(ledger.store.emitted(RefundRecorded)) == 1


async def test_a_refund_whose_failure_came_first_books_nothing(ledger: Ledger) -> None:
    await _paid(ledger, "ch_1", 10_000, 320)
    failed = _refund("re_1", "ch_1", 2_500, "failed")
    await ledger.on(refunds.on_refund_event, "refund.failed", failed)
    await ledger.on(joins.on_charge, "charge.refunded", _charge("ch_1", 10_000, 320))
    created = _refund("re_1", "ch_1", 2_500, "pending")  # older news, delivered later
    await ledger.on(refunds.on_refund_event, "refund.created", created)

    assert list(ledger.store.transactions) == ["payment:ch_1", "fee:ch_1"]
    assert ledger.store.statuses["refunds", "re_1"]["status"] == "failed"


@pytest.mark.parametrize(
    ("outcome", "closing", "payable", "disputes_left", "fees"),
    [
        # Won: the amount and the dispute fee come back.
        ("won", [(-10_000, 1_500), (10_000, -1_500)], 9_680, 0, 320),
        # Lost: both stay withdrawn.
        ("lost", [(-10_000, 1_500)], 9_680 - 10_000 - 1_500, 10_000, 320 + 1_500),
    ],
)
async def test_a_dispute_withdraws_the_amount_and_its_fee_and_its_outcome_settles_them(
    ledger: Ledger,
    outcome: str,
    closing: list[tuple[int, int]],
    payable: int,
    disputes_left: int,
    fees: int,
) -> None:
    await _paid(ledger, "ch_1", 10_000, 320)
    opened = _dispute("needs_response", (-10_000, 1_500))
    await ledger.on(disputes.on_dispute_event, "charge.dispute.funds_withdrawn", opened)

    assert ledger.moved()[A.DISPUTES] == 10_000
    assert ledger.moved()[A.STRIPE_FEES] == 320 + 1_500
    assert ledger.moved()[A.PAYABLE_TO_ORGANIZER] == 9_680 - 10_000 - 1_500
    assert [e.dispute_id for e in ledger.store.emitted(DisputeOpened)] == ["dp_1"]

    await ledger.on(disputes.on_dispute_event, "charge.dispute.closed", _dispute(outcome, *closing))

    assert ledger.moved().get(A.DISPUTES, 0) == disputes_left
    assert ledger.moved()[A.STRIPE_FEES] == fees
    assert ledger.moved()[A.PAYABLE_TO_ORGANIZER] == payable
    assert [e.status for e in ledger.store.emitted(DisputeClosed)] == [outcome]
    assert ledger.store.statuses["disputes", "dp_1"]["status"] == outcome
    assert len(ledger.store.emitted(DisputeOpened)) == 1


async def test_a_payout_moves_payable_to_paid_out_and_a_failed_one_comes_back(
    ledger: Ledger,
) -> None:
    await _paid(ledger, "ch_1", 10_000, 320)
    payout = ledger.stripe.put(_disbursement("payout", "po_1", 4_000, status="paid"))
    await ledger.on(disbursements.on_payout, "payout.paid", payout)

    assert ledger.moved()[A.PAID_OUT] == 4_000
    assert ledger.moved()[A.PAYABLE_TO_ORGANIZER] == 9_680 - 4_000

    payout["status"] = "failed"
    await ledger.on(disbursements.on_payout, "payout.failed", payout)

    assert A.PAID_OUT not in ledger.moved()
    assert ledger.moved()[A.PAYABLE_TO_ORGANIZER] == 9_680
    recorded = ledger.store.emitted(PayoutRecorded)
    assert [(e.payout_id, e.status) for e in recorded] == [("po_1", "paid"), ("po_1", "failed")]


async def test_the_platforms_own_payout_is_not_a_groups_and_books_nothing(ledger: Ledger) -> None:
    own = _disbursement("payout", "po_1", 4_000, status="paid", metadata={})
    await ledger.on(disbursements.on_payout, "payout.paid", own)
    assert ledger.store.transactions == {}
    assert ledger.store.outbox == {}


async def test_a_transfer_books_what_was_sent_and_each_reversal_by_what_is_new(
    ledger: Ledger,
) -> None:
    await _paid(ledger, "ch_1", 10_000, 320)
    for reversed_so_far in (0, 1_000, 1_000, 3_000):
        transfer = _disbursement("transfer", "tr_1", 3_000, amount_reversed=reversed_so_far)
        await ledger.on(disbursements.on_transfer, "transfer.updated", transfer)
        assert ledger.moved().get(A.PAID_OUT, 0) == 3_000 - reversed_so_far

    amounts = {k: t.amount for k, t in ledger.store.transactions.items() if "transfer" in k}
    assert amounts == {
        "transfer:tr_1": 3_000,
        "transfer_reversal:tr_1:1000": 1_000,
        "transfer_reversal:tr_1:3000": 2_000,
    }
    assert ledger.moved()[A.PAYABLE_TO_ORGANIZER] == 9_680


async def test_the_organizers_payable_is_gross_less_refunds_disputes_fees_and_payouts(
    ledger: Ledger,
) -> None:
    await _paid(ledger, "ch_1", 10_000, 320)
    await _paid(ledger, "ch_2", 5_000, 175)
    await _paid(ledger, "ch_3", 5_000, 180, currency="jpy")
    refund = ledger.stripe.put(_refund("re_1", "ch_2", 2_500, "succeeded"))
    await ledger.on(refunds.on_refund_event, "refund.updated", refund)
    lost = _dispute("lost", (-10_000, 1_500))
    await ledger.on(disputes.on_dispute_event, "charge.dispute.closed", lost)
    transfer = _disbursement("transfer", "tr_1", 1_000)
    await ledger.on(disbursements.on_transfer, "transfer.created", transfer)

    moved = ledger.moved()
    assert moved == {
        A.GROSS_REVENUE: -15_000,
        A.REFUNDS: 2_500,
        A.DISPUTES: 10_000,
        A.STRIPE_FEES: 320 + 175 + 1_500,
        A.PAID_OUT: 1_000,
        A.PAYABLE_TO_ORGANIZER: 15_000 - 2_500 - 10_000 - 1_995 - 1_000,
    }
    gross = -moved[A.GROSS_REVENUE]
    taken = moved[A.REFUNDS] + moved[A.DISPUTES] + moved[A.STRIPE_FEES] + moved[A.PAID_OUT]
    assert moved[A.PAYABLE_TO_ORGANIZER] == gross - taken
    # Each currency balances on its own: the yen payment is not in the dollar accounts.
    assert ledger.moved("jpy") == {
        A.GROSS_REVENUE: -5_000,
        A.STRIPE_FEES: 180,
        A.PAYABLE_TO_ORGANIZER: 4_820,
    }
    async with ledger.deps.uow() as uow:
        assert await payouts.balance(uow, GROUP, "usd") == {
            "payable": -495,
            "pending": 0,
            "available": -495,
        }


async def test_every_event_delivered_again_books_and_announces_nothing_more(
    ledger: Ledger,
) -> None:
    await _paid(ledger, "ch_1", 10_000, 320)
    checkout = {
        "id": "cs_1",
        "object": "checkout.session",
        "mode": "payment",
        "payment_status": "paid",
        "payment_intent": "pi_ch_1",
        "metadata": {"group_id": GROUP},
    }
    await ledger.on(joins.on_checkout_completed, "checkout.session.completed", checkout)
    refund = ledger.stripe.put(_refund("re_1", "ch_1", 1_000, "succeeded"))
    await ledger.on(refunds.on_refund_event, "refund.created", refund)
    dispute = _dispute("needs_response", (-9_000, 1_500))
    await ledger.on(disputes.on_dispute_event, "charge.dispute.funds_withdrawn", dispute)
    payout = ledger.stripe.put(_disbursement("payout", "po_1", 500, status="paid"))
    await ledger.on(disbursements.on_payout, "payout.paid", payout)
    booked = dict(ledger.store.transactions)
    outbox = dict(ledger.store.outbox)
    assert list(booked) == [
        "payment:ch_1",
        "fee:ch_1",
        "refund:re_1",
        "dispute_funds_withdrawn:dp_1:txn_dp_0",
        "payout:po_1",
    ]
    assert len(outbox) == 4  # the payment, the refund, the dispute opened, the payout

    await _paid(ledger, "ch_1", 10_000, 320)  # the charge again, in a new event
    for handler, event in list(ledger.delivered):
        await ledger.apply(handler, event)

    assert ledger.store.transactions == booked
    assert ledger.store.outbox == outbox


async def test_yen_amounts_stay_whole_yen_on_every_entry(ledger: Ledger) -> None:
    """JPY has no minor unit: Stripe's 5000 is ¥5000 and is booked as the integer 5000."""
    charge = ledger.stripe.put(_charge("ch_1", 5_000, 180, currency="JPY"))
    await ledger.on(joins.on_charge, "charge.succeeded", charge)
    refund = ledger.stripe.put({**_refund("re_1", "ch_1", 1_000, "succeeded"), "currency": "JPY"})
    await ledger.on(refunds.on_refund_event, "refund.created", refund)

    assert ledger.moved("jpy") == {
        A.GROSS_REVENUE: -5_000,
        A.STRIPE_FEES: 180,
        A.REFUNDS: 1_000,
        A.PAYABLE_TO_ORGANIZER: 3_820,
    }
    entries = [p for t in ledger.store.transactions.values() for p in t.postings]
    assert all(type(p.amount) is int and p.currency == "jpy" for p in entries)
    [recorded] = ledger.store.emitted(PaymentRecorded)
    assert (recorded.amount, recorded.fee, recorded.currency) == (5_000, 180, "jpy")


async def test_a_payout_request_reserves_at_most_the_available_and_its_approval_pays_it(
    ledger: Ledger,
) -> None:
    await _paid(ledger, "ch_1", 10_000, 320)
    ledger.store.schedules[GROUP] = {"interval": "manual", "destination_account": "acct_1"}
    ask = payouts.PayoutRequest(GROUP, 9_681, "usd", requested_by="org_1")

    with pytest.raises(InsufficientBalance):
        await payouts.request_payout(ledger.deps, ask)
    assert ledger.store.requests == {}

    ask = replace(ask, amount=9_000, idempotency_key="k1")
    request, new = await payouts.request_payout(ledger.deps, ask)
    assert new
    assert (await payouts.request_payout(ledger.deps, ask)) == (request, False)
    with pytest.raises(IdempotencyKeyReused):
        await payouts.request_payout(ledger.deps, replace(ask, amount=8_000))
    with pytest.raises(InsufficientBalance, match="available 680"):
        await payouts.request_payout(ledger.deps, replace(ask, amount=681, idempotency_key=None))

    paid = await payouts.approve_payout(ledger.deps, request["payout_id"], admin="adm_1")

    assert paid["status"] == PayoutStatus.PAID
    assert ledger.moved()[A.PAID_OUT] == 9_000
    assert ledger.moved()[A.PAYABLE_TO_ORGANIZER] == 680
    async with ledger.deps.uow() as uow:
        assert (await payouts.balance(uow, GROUP, "usd"))["pending"] == 0
    [recorded] = ledger.store.emitted(PayoutRecorded)
    assert (recorded.payout_id, recorded.amount, recorded.status) == (
        paid["payout_id"],
        9_000,
        "paid",
    )


def _declined(charge_id: str, metadata: dict[str, str]) -> dict[str, Any]:
    return {
        "id": charge_id,
        "object": "charge",
        "amount": 1500,
        "currency": "jpy",
        "status": "failed",
        "created": NOW,
        "payment_intent": f"pi_{charge_id}",
        "metadata": metadata,
        "billing_details": {"email": "payer@example.com"},
        "failure_code": "card_declined",
        "failure_message": "Your card was declined.",
        "outcome": {"reason": "generic_decline"},
    }


def _intent_failed(charge_id: str | None) -> dict[str, Any]:
    return {
        "id": f"pi_{charge_id or 'auth'}",
        "object": "payment_intent",
        "amount": 1500,
        "currency": "jpy",
        "status": "requires_payment_method",
        "metadata": {"group_id": GROUP, "user_id": "usr_1"},
        "last_payment_error": {
            "code": "card_declined" if charge_id else "payment_intent_authentication_failure",
            "decline_code": "generic_decline" if charge_id else None,
            "message": "Your card was declined." if charge_id else "3-D Secure failed.",
            "charge": charge_id,
        },
    }


@pytest.mark.parametrize("charge_first", [True, False])
@pytest.mark.parametrize("charge_metadata", [True, False])
async def test_a_declined_charge_is_recorded_once_whatever_the_order_of_its_events(
    charge_first: bool, charge_metadata: bool
) -> None:
    ledger = Ledger()
    metadata = {"group_id": GROUP, "user_id": "usr_1"} if charge_metadata else {}
    steps = [
        (failures.on_charge_failed, "charge.failed", _declined("ch_x", metadata)),
        (failures.on_intent_failed, "payment_intent.payment_failed", _intent_failed("ch_x")),
    ]
    for handler, event_type, obj in steps if charge_first else steps[::-1]:
        await ledger.on(handler, event_type, obj)
    found = ledger.store.failures["ch_x"]
    assert (found["group_id"], found["amount"], found["currency"]) == (GROUP, 1500, "jpy")
    assert (found["code"], found["decline_code"]) == ("card_declined", "generic_decline")
    # The charge's payer is known unless it came first without saying whose it is.
    assert found["email"] == (None if charge_first and not charge_metadata else "payer@example.com")
    assert ledger.moved("jpy") == {}, "a declined charge moves no money"


async def test_a_failed_challenge_and_another_apps_decline() -> None:
    ledger = Ledger()
    failed = _intent_failed(None)
    await ledger.on(failures.on_intent_failed, "payment_intent.payment_failed", failed)
    assert ledger.store.failures["pi_auth"]["kind"] == "authentication"
    await ledger.on(failures.on_charge_failed, "charge.failed", _declined("ch_other", {}))
    assert "ch_other" not in ledger.store.failures
