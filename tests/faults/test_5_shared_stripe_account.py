"""A Stripe account shared with another app: every kind of event the consumers subscribe to,
about objects that carry none of Tollgate's metadata, reaches every consumer through the
gateway as Stripe sends it, and is acknowledged without changing anything — no retry, no
dead letter, no row (but the ledger's pending parts: a charge without metadata may be a
subscription's until its invoice says), no domain event, no mail, no Stripe request of ours at
all (the other app calls with an API key of its own, which the emulator counts apart)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import psycopg
import stripe
from psycopg import sql

from tollgate_shared.messaging.streams import filters, subject_matches
from tollgate_shared.testing import unique

from .conftest import CONSUMERS, GOOD_CARD, LABEL, SERVICES_STRIPE_KEY, Stack

DECLINED = "4000000000000002"
STATEFUL = ("checkout", "membership", "ledger", "notifications")
UNTRACKED = {"inbox", "alembic_version", "payment_parts", "reversals"}
"""Tables a foreign event may change: the inbox records every message a consumer took; the
ledger keeps what a charge or invoice payment without metadata told until its invoice or
checkout comes, and a refund, dispute or risk event of a charge it has not booked until the
charge is (never, for another app's: pruned after days); membership keeps a lost dispute of
a payment whose term it has not recorded (a dispute cannot tell whose it is), which takes back
only a term recorded for that payment."""
OTHER_APP_KEY = "sk_test_bakery_shop"
DIGEST = sql.SQL(
    "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {} t"
)
"""A table's rows, and a digest of all their values."""
FOREIGN = re.compile(r"^tollgate_foreign_events_total\{(.*)\} (\S+)$", re.MULTILINE)


class AnotherApp:
    """Another app on the same Stripe account, through Stripe's API and test controls: one-off
    payments refunded, disputed (lost and won) and reviewed; a subscription renewed, partly
    refunded, declined until canceled; another one cancelled; a declined and an expired
    checkout; a transfer and a payout. Its objects carry its own metadata only. It counts the
    calls it makes that change something, so that the services' own can be told apart."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.client = stripe.StripeClient(
            OTHER_APP_KEY,
            base_addresses={"api": stack.emulator},
            max_network_retries=0,
            http_client=stripe.HTTPXClient(),
        )
        self.email = f"{unique('buyer')}@bakery.test"
        self.metadata = {"shop_order": unique("order")}
        self.writes: Counter[tuple[str, str]] = Counter()

    def _wrote(self, method: str, path: str) -> None:
        self.writes[(method, path)] += 1

    async def run(self) -> None:
        one_off = await self._price(recurring=False)
        monthly = await self._price(recurring=True)

        refunded = await self._pay(one_off)
        refund = await self.client.v1.refunds.create_async({"charge": refunded})
        self._wrote("POST", "/v1/refunds")
        await self.client.v1.refunds.update_async(refund.id, {"metadata": self.metadata})
        self._wrote("POST", f"/v1/refunds/{refund.id}")

        for outcome in ("lost", "won"):
            disputed = await self._pay(one_off)
            dispute = await self.stack.control(
                f"/charges/{disputed}/dispute", {"reason": "fraudulent"}
            )
            await self.stack.control(f"/disputes/{dispute['id']}/close", {"outcome": outcome})

        reviewed = await self._pay(one_off)
        await self.stack.control(f"/charges/{reviewed}/early_fraud_warning")
        review = await self.stack.control(f"/charges/{reviewed}/review", {"reason": "rule"})
        await self.stack.control(f"/reviews/{review['id']}/close", {"reason": "approved"})

        renewing = await self._subscribe(monthly)
        await self.stack.control(f"/subscriptions/{renewing}/advance", {"on_failure": "canceled"})
        [*_, renewal] = await self._charges_of(renewing)
        await self.client.v1.refunds.create_async({"charge": renewal, "amount": 300})
        self._wrote("POST", "/v1/refunds")
        for _ in range(2):  # declined, past due; declined again, canceled
            await self.stack.control(
                f"/subscriptions/{renewing}/advance",
                {"card_number": DECLINED, "on_failure": "canceled"},
            )

        cancelled = await self._subscribe(monthly)
        await self.client.v1.subscriptions.update_async(cancelled, {"cancel_at_period_end": True})
        self._wrote("POST", f"/v1/subscriptions/{cancelled}")
        await self.client.v1.subscriptions.cancel_async(cancelled)
        self._wrote("DELETE", f"/v1/subscriptions/{cancelled}")

        declined = await self._session(one_off, "payment")
        answer = await self.stack.http.post(
            f"{self.stack.emulator}/_emulator/checkout/sessions/{declined}/complete",
            json={"card_number": DECLINED, "email": self.email},
        )
        assert answer.json()["outcome"] == "declined", answer.text
        for session in (declined, await self._session(one_off, "payment")):
            await self.client.v1.checkout.sessions.expire_async(session)
            self._wrote("POST", f"/v1/checkout/sessions/{session}/expire")

        money = {"amount": 700, "currency": "usd", "metadata": self.metadata}
        await self.client.v1.transfers.create_async({**money, "destination": "acct_1Bakery"})
        self._wrote("POST", "/v1/transfers")
        await self.client.v1.payouts.create_async(money)
        self._wrote("POST", "/v1/payouts")

    async def _price(self, *, recurring: bool) -> str:
        params: dict[str, Any] = {
            "unit_amount": 1200,
            "currency": "usd",
            "product_data": {"name": "Sourdough"},
        }
        if recurring:
            params["recurring"] = {"interval": "month"}
        self._wrote("POST", "/v1/prices")
        return (await self.client.v1.prices.create_async(params)).id

    async def _session(self, price: str, mode: str) -> str:
        params: dict[str, Any] = {
            "mode": mode,
            "line_items": [{"price": price, "quantity": 1}],
            "metadata": self.metadata,
            "customer_email": self.email,
            "success_url": "https://bakery.test/thanks",
        }
        data = "subscription_data" if mode == "subscription" else "payment_intent_data"
        params[data] = {"metadata": self.metadata}
        session = await self.client.v1.checkout.sessions.create_async(params)  # type: ignore[arg-type]
        self._wrote("POST", "/v1/checkout/sessions")
        return session.id

    async def _complete(self, session: str) -> dict[str, Any]:
        paid = await self.stack.control(
            f"/checkout/sessions/{session}/complete",
            {"card_number": GOOD_CARD, "email": self.email},
        )
        assert paid["outcome"] == "paid", paid
        return dict(paid["session"])

    async def _pay(self, price: str) -> str:
        """A paid one-off checkout; its charge."""
        paid = await self._complete(await self._session(price, "payment"))
        intent = await self.client.v1.payment_intents.retrieve_async(paid["payment_intent"])
        return str(intent.latest_charge)

    async def _subscribe(self, price: str) -> str:
        paid = await self._complete(await self._session(price, "subscription"))
        return str(paid["subscription"])

    async def _charges_of(self, subscription: str) -> list[str]:
        charges = []
        invoices = await self.client.v1.invoices.list_async({"subscription": subscription})
        for invoice in reversed(invoices.data):
            payments = await self.client.v1.invoice_payments.list_async({"invoice": invoice.id})
            for payment in payments.data:
                intent = payment["payment"]["payment_intent"]
                found = await self.client.v1.payment_intents.retrieve_async(intent)
                charges.append(str(found.latest_charge))
        return charges


@dataclass(frozen=True)
class Snapshot:
    """What the platform holds and has done, as far as events can change or cause it."""

    tables: dict[str, dict[str, str]]
    """Per service database, a digest of every table's rows (but the inbox)."""
    consumed: Counter[tuple[str, str, str]]
    """Per (stream, durable, outcome), the deliveries the consumers finished."""
    foreign: Counter[str]
    """Per service, the events it counted as another app's."""
    domain_events: int
    dead_letters: int
    mails: int
    stripe_calls: Counter[tuple[str, str]]
    """Calls to Stripe that change something, and reads of subscriptions."""
    services_calls: Counter[str]
    """Requests under the services' API key, per endpoint (the harness's own left out)."""


async def _tables(stack: Stack, service: str) -> dict[str, str]:
    async with await psycopg.AsyncConnection.connect(stack.database_url(service)) as conn:
        names = await conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        digests = {}
        for (name,) in await names.fetchall():
            if name in UNTRACKED:
                continue
            rows = await conn.execute(DIGEST.format(sql.Identifier(name)))
            count, digest = await rows.fetchone() or (0, "")
            digests[name] = f"{count} rows {digest}"
        return digests


async def snapshot(stack: Stack) -> Snapshot:
    consumed: Counter[tuple[str, str, str]] = Counter()
    foreign: Counter[str] = Counter()
    for service in STATEFUL:
        consumed += await stack.consumed(service)
        metrics = (await stack.http.get(stack.service(service) + "/metrics")).text
        for labels, value in FOREIGN.findall(metrics):
            foreign[dict(LABEL.findall(labels))["service"]] += int(float(value))
    nc, js = await stack.jetstream()
    try:
        domain = (await js.stream_info("DOMAIN")).state.last_seq
        dead = (await js.stream_info("DLQ")).state.messages
    finally:
        await nc.close()
    requests = await stack.stripe_requests()
    usage = await stack.http.get(
        f"{stack.emulator}/_emulator/usage", params={"api_key": SERVICES_STRIPE_KEY}
    )
    return Snapshot(
        tables={service: await _tables(stack, service) for service in STATEFUL},
        consumed=consumed,
        foreign=foreign,
        domain_events=domain,
        dead_letters=dead,
        mails=len(await stack.mails()),
        stripe_calls=Counter(
            {
                (method, path): n
                for (method, path), n in requests.items()
                if method != "GET" or path.startswith("/v1/subscriptions/")
            }
        ),
        services_calls=Counter(usage.json()["endpoints"]),
    )


async def settled(stack: Stack) -> dict[str, Any] | None:
    """Every Stripe event delivered, every durable idle with nothing redelivered, every booked
    payment's fee known: the durables' state then; None before."""
    if (await stack.stripe("/events", delivery_success="false", limit=1))["data"]:
        return None
    # The ledger's fee task calls Stripe while a payment's fee is unknown: let it finish first.
    async with await psycopg.AsyncConnection.connect(stack.database_url("ledger")) as conn:
        unknown = await (
            await conn.execute("SELECT count(*) FROM payments WHERE fee IS NULL")
        ).fetchone()
    if unknown and unknown[0]:
        return None
    nc, js = await stack.jetstream()
    try:
        found = {}
        for stream, durables in CONSUMERS.items():
            for durable in durables:
                info = await js.consumer_info(stream, durable)
                if info.num_pending or info.num_ack_pending or info.num_redelivered:
                    return None
                found[(stream, durable)] = info.config
        return found
    finally:
        await nc.close()


async def steady(stack: Stack) -> Snapshot:
    """A snapshot once the platform is settled and two snapshots in a row agree."""
    last: list[Snapshot] = []

    async def agreed() -> Snapshot | None:
        if await settled(stack) is None:
            return None
        now = await snapshot(stack)
        same = bool(last) and last[-1] == now
        last.append(now)
        return now if same else None

    return await stack.until(agreed, message="platform settled")


async def test_another_apps_events_are_acked_by_every_consumer_and_change_nothing(
    stack: Stack,
) -> None:
    before = await steady(stack)
    earlier = {e["id"] for e in await stack.emulator_events()}
    app = AnotherApp(stack)
    await app.run()
    events = [e for e in await stack.emulator_events() if e["id"] not in earlier]
    after = await steady(stack)

    durables = await settled(stack)
    assert durables is not None
    subscribed = {e["type"] for e in events}
    assert subscribed >= {
        "checkout.session.completed",
        "checkout.session.expired",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "invoice.paid",
        "invoice.payment_succeeded",
        "invoice.payment_failed",
        "charge.succeeded",
        "charge.failed",
        "charge.refunded",
        "refund.created",
        "refund.updated",
        "charge.dispute.created",
        "charge.dispute.funds_withdrawn",
        "charge.dispute.funds_reinstated",
        "charge.dispute.closed",
        "radar.early_fraud_warning.created",
        "review.opened",
        "review.closed",
        "transfer.created",
        "payout.created",
    }, sorted(subscribed)
    for (stream, durable), config in durables.items():
        wanted = filters(config)
        if stream != "STRIPE":
            continue
        taken = sum(
            1 for e in events if any(subject_matches(f, f"stripe.{e['type']}") for f in wanted)
        )
        # Idle (settled): each took them all and acked them; those its handlers want, applied.
        processed = (stream, durable, "processed")
        assert 0 < after.consumed[processed] - before.consumed[processed] <= taken, durable
    for outcome in ("retried", "dead_lettered"):
        changed = {
            k: n - before.consumed[k]
            for k, n in after.consumed.items()
            if k[2] == outcome and n != before.consumed[k]
        }
        assert changed == {}, f"{outcome}: {changed}"
    assert after.dead_letters == before.dead_letters
    # Membership tells no foreign object from a purchase of ours: neither is a membership.
    counted = {
        s for s in ("checkout", "ledger", "notifications") if after.foreign[s] > before.foreign[s]
    }
    assert counted == {"checkout", "ledger", "notifications"}
    assert after.domain_events == before.domain_events, "a service emitted a domain event"
    assert after.mails == before.mails
    changed = {
        (service, table): (before.tables[service].get(table), rows)
        for service in STATEFUL
        for table, rows in after.tables[service].items()
        if before.tables[service].get(table) != rows
    }
    assert changed == {}, "tables a foreign event changed (before, after)"
    # The other app's calls only: the services changed nothing at Stripe, and read none of its
    # subscriptions (an invoice's copy of their metadata tells they are no memberships).
    assert after.stripe_calls - before.stripe_calls == app.writes
    # Nor anything else: no request at all under the services' key during the other app's run.
    assert after.services_calls - before.services_calls == Counter()

    # The same foreign events again, as new events through the gateway, in fetches of their
    # own: every consumer acks them without one Stripe request, retry or dead letter.
    mix = {"checkout.session.completed", "customer.subscription.created", "invoice.paid"}
    mix |= {"charge.succeeded", "charge.refunded", "refund.created"}
    again = [{**e, "id": unique("evt_foreign")} for e in events if e["type"] in mix]
    assert {e["type"] for e in again} == mix
    requests = await stack.stripe_requests()
    for event in again:
        assert (await stack.post_webhook(event)).status_code == 200
    replayed = await steady(stack)
    calls = (await stack.stripe_requests()) - requests
    calls.pop(("GET", "/v1/events"), None)  # `settled` asking whether all were delivered
    assert dict(calls) == {}
    for outcome in ("retried", "dead_lettered"):
        assert all(
            replayed.consumed[k] == after.consumed[k] for k in replayed.consumed if k[2] == outcome
        ), outcome
    assert replayed.dead_letters == after.dead_letters
    assert replayed.tables == after.tables and replayed.domain_events == after.domain_events
