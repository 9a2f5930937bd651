"""The audit trail and the read side: timelines, risk items, member history, paging, CSV."""

from __future__ import annotations

import csv
import io

import httpx
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledger.config import Settings
from tollgate_shared.persistence.db import make_engine
from tollgate_shared.testing import (
    StripeWorld,
    publish_stripe_event,
    stripe_event,
    unique,
    wait_until,
)

from .conftest import auth


async def test_a_payment_story_from_payment_to_risk_to_refund(
    world: StripeWorld, ledger: httpx.AsyncClient
) -> None:
    group, user = unique("grp"), unique("u")
    paid = await world.checkout(await world.price(4000), group_id=group, user_id=user)
    charge = await world.charge_of_intent(paid["payment_intent"])
    await world.control(
        f"charges/{charge}/early_fraud_warning", {"fraud_type": "card_never_received"}
    )
    review = await world.control(f"charges/{charge}/review", {"reason": "rule"})
    await world.control(f"reviews/{review['id']}/close", {"reason": "approved"})
    await world.forward()

    async def risk_seen() -> list[dict[str, object]] | None:
        organizer = auth(sub="org", roles=("organizer",), groups=(group,))
        found = (await ledger.get(f"/groups/{group}/risk", headers=organizer)).json()["risk"]
        return found if {r["status"] for r in found} == {"closed", "actionable"} else None

    risk = await wait_until(risk_seen, message="risk items recorded")
    assert {r["charge_id"] for r in risk} == {charge}
    assert {r["user_id"] for r in risk} == {user}

    refund = await ledger.post(
        f"/payments/{charge}/refunds", json={"amount": 1500, "note": "goodwill"}, headers=auth()
    )
    assert refund.status_code == 202, refund.text
    too_much = await ledger.post(
        f"/payments/{charge}/refunds", json={"amount": 4000}, headers=auth()
    )
    assert too_much.status_code == 409
    await world.forward()

    async def refunded() -> dict[str, object] | None:
        detail = (await ledger.get(f"/payments/{charge}", headers=auth())).json()
        booked = detail["status"] == "partially_refunded" and detail["fee"] is not None
        return detail if booked else None

    detail = await wait_until(refunded, message="refund and fee booked")
    assert detail["refunded"] == 1500
    assert detail["refunds"][0]["note"] == "goodwill"
    assert detail["refunds"][0]["requested_by"] == "admin_1"
    kinds = [t["kind"] for t in detail["transactions"]]
    assert sorted(kinds) == ["fee", "payment", "refund"]
    assert {s["event_type"] for s in detail["timeline"]} >= {
        "radar.early_fraud_warning.created",
        "review.opened",
        "review.closed",
        "charge.refunded",
    }

    history = await ledger.get(f"/users/{user}/payments", headers=auth(sub=user, roles=()))
    assert history.status_code == 200
    [payment] = history.json()["payments"]
    assert "receipt_url" in payment  # the emulator leaves it null
    assert payment["status"] == "partially_refunded"
    other = await ledger.get(f"/users/{user}/payments", headers=auth(sub="someone", roles=()))
    assert other.status_code == 403


async def _renewed_member(world: StripeWorld, **card: str) -> tuple[str, str]:
    """A new group's member on a monthly price, billed the next month (with `card_number`, if
    given): (group, user)."""
    group, user = unique("grp"), unique("u")
    member = await world.checkout(
        await world.price(900, monthly=True), group_id=group, user_id=user, subscription=True
    )
    await world.control(f"subscriptions/{member['subscription']}/advance", card)
    return group, user


async def test_subscription_invoices_show_in_the_member_history(
    world: StripeWorld, ledger: httpx.AsyncClient
) -> None:
    group, user = await _renewed_member(world)
    await world.forward()

    async def history() -> dict[str, list[dict[str, object]]] | None:
        found = (await ledger.get(f"/users/{user}/payments", headers=auth())).json()
        fees = all(p["fee"] is not None for p in found["payments"])
        return (
            found if len(found["payments"]) == 2 and len(found["invoices"]) == 2 and fees else None
        )

    found = await wait_until(history, message="two paid invoices, their fees booked")
    assert all(p["hosted_invoice_url"] and p["invoice_id"] for p in found["payments"])
    assert {p["tier_id"] for p in found["payments"]} == {"tier_" + group}
    assert {i["status"] for i in found["invoices"]} == {"paid"}

    first = await ledger.get(f"/groups/{group}/transactions?limit=2", headers=auth())
    assert first.json()["next_cursor"]
    rest = await ledger.get(
        f"/groups/{group}/transactions?limit=2&cursor={first.json()['next_cursor']}",
        headers=auth(),
    )
    ids = [t["id"] for t in first.json()["data"] + rest.json()["data"]]
    assert len(ids) == 4 and ids == sorted(ids, reverse=True)

    exported = await ledger.get(f"/groups/{group}/transactions.csv?from=2000-01-01", headers=auth())
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 8 and sum(int(r["amount"]) for r in rows) == 0
    bad = await ledger.get(f"/groups/{group}/summary?from=yesterday", headers=auth())
    assert bad.status_code == 422


async def test_an_invoice_marked_uncollectible_shows_so_in_the_member_history(
    world: StripeWorld, ledger: httpx.AsyncClient
) -> None:
    _, user = await _renewed_member(world, card_number="4000000000000002")
    [failed] = [e for e in await world.forward() if e["type"] == "invoice.payment_failed"]
    # Stripe marks an invoice uncollectible when its retries are over or an operator writes it
    # off; the emulator does neither, so the event is Stripe's, around the invoice it has.
    invoice = failed["data"]["object"]
    marked_at = failed["created"] + 1
    transitions = invoice["status_transitions"] | {"marked_uncollectible_at": marked_at}
    uncollectible = invoice | {"status": "uncollectible", "status_transitions": transitions}
    marked = stripe_event("invoice.marked_uncollectible", uncollectible, created=marked_at)
    await publish_stripe_event(world.js, marked)

    async def statuses() -> dict[str, str] | None:
        found = (await ledger.get(f"/users/{user}/payments", headers=auth())).json()
        status = {i["invoice_id"]: i["status"] for i in found["invoices"]}
        return status if status.get(invoice["id"]) == "uncollectible" else None

    status = await wait_until(statuses, message="the invoice marked uncollectible", timeout=20)
    assert sorted(status.values()) == ["paid", "uncollectible"]


async def test_the_ledger_refuses_edits_and_unbalanced_entries(settings: Settings) -> None:
    engine = make_engine(settings.sqlalchemy_url, pool_size=1)
    statements = [
        "UPDATE ledger_entries SET amount = amount + 1",
        "DELETE FROM ledger_transactions",
        "WITH t AS (INSERT INTO ledger_transactions (key, kind, group_id, currency, amount,"
        " source_id, occurred_at) VALUES ('test:unbalanced', 'payment', 'g', 'usd', 1, 'x', now())"
        " RETURNING id) INSERT INTO ledger_entries (transaction_id, group_id, account, currency,"
        " amount, occurred_at) SELECT id, 'g', 'gross_revenue', 'usd', -1, now() FROM t",
    ]
    for statement in statements:
        try:
            async with engine.begin() as conn:
                await conn.execute(text(statement))
        except DBAPIError as exc:
            assert "append-only" in str(exc) or "does not balance" in str(exc)
        else:
            raise AssertionError(f"accepted: {statement}")
    await engine.dispose()


async def test_serves_health_and_readiness(ledger: httpx.AsyncClient) -> None:
    assert (await ledger.get("/healthz")).status_code == 200
    assert (await ledger.get("/readyz")).json()["checks"] == {"broker": True, "database": True}


async def test_the_csv_export_neutralises_formulas(
    world: StripeWorld, ledger: httpx.AsyncClient
) -> None:
    """A member chooses a purchase's `reference`: a spreadsheet opening the export must show
    it as text, never run it."""
    group = unique("grp")
    attacks = ['=HYPERLINK("http://evil.test","x")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]
    for reference in attacks:
        await world.checkout(
            await world.price(1000), group_id=group, user_id=unique("u"), reference=reference
        )
    await world.forward()

    async def exported() -> list[dict[str, str]] | None:
        answer = await ledger.get(f"/groups/{group}/transactions.csv", headers=auth())
        rows = list(csv.DictReader(io.StringIO(answer.text, newline="")))
        return rows if len({r["reference"] for r in rows}) == len(attacks) else None

    rows = await wait_until(exported, message="every purchase booked")
    assert {r["reference"] for r in rows} == {"'" + attack for attack in attacks}
    assert all(
        not cell.startswith(("=", "+", "@", "\t", "\r")) for r in rows for cell in r.values()
    )
    assert {"1000", "-1000"} <= {r["amount"] for r in rows}, "negative amounts stay numbers"
