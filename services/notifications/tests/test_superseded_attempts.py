"""A failed attempt to pay an invoice is not mailed once it is superseded: a later attempt of
the same invoice or its payment is known (whichever event came first, and however often each
came), or the retry it would announce ("we will try again on …") is already due. Checked when
the event is applied and again when the mail is due to go out."""

from __future__ import annotations

import time
from typing import Any

from tollgate_shared.infra.process import free_port
from tollgate_shared.infra.provide import Infrastructure
from tollgate_shared.testing import unique, wait_until

from .conftest import Harness, StartService, start_sink, stripe_example

HOUR = 3600


def _invoice(group: str, *, attempt: int, retry_in: float | None, **values: Any) -> dict[str, Any]:
    """An open invoice of a membership of `group` after its `attempt`-th failed attempt, Stripe
    retrying in `retry_in` seconds (None: no more retries)."""
    user = values.pop("user", None) or unique("usr")
    return stripe_example(
        "invoice",
        id=values.pop("id", None) or unique("in"),
        status="open",
        amount_due=1250,
        currency="usd",
        attempt_count=attempt,
        next_payment_attempt=None if retry_in is None else int(time.time() + retry_in),
        customer_email=values.pop("email", None) or f"{unique('member')}@example.com",
        parent={
            "type": "subscription_details",
            "subscription_details": {
                "subscription": unique("sub"),
                "metadata": {"user_id": user, "group_id": group, "tier_id": "tier_gold"},
            },
        },
        **values,
    )


def _again(invoice: dict[str, Any], **values: Any) -> dict[str, Any]:
    """The same invoice later (another attempt, or paid)."""
    return invoice | values


def _superseded(metrics_text: str) -> float:
    line = 'tollgate_notifications_superseded_total{kind="payment_failed"} '
    found = [float(row[len(line) :]) for row in metrics_text.splitlines() if row.startswith(line)]
    return found[0] if found else 0.0


async def _count(svc: Harness) -> float:
    return _superseded((await svc.api("GET", "/metrics")).text)


async def test_a_superseded_attempt_is_not_mailed_whatever_the_order(
    start_service: StartService,
) -> None:
    async with start_service() as service:
        await _superseded_when_applied(service)


async def _superseded_when_applied(service: Harness) -> None:
    group = unique("grp")
    await service.set_contacts(group, f"{unique('org')}@example.com", name="Chess club")
    before = await _count(service)
    # The later attempt first, the earlier after it, each twice.
    second = _invoice(group, attempt=2, retry_in=3 * 24 * HOUR)
    first = _again(second, attempt_count=1, next_payment_attempt=int(time.time() + 24 * HOUR))
    # Paid (through the portal) before the failed attempt's event is applied.
    unpaid = _invoice(group, attempt=1, retry_in=24 * HOUR)
    paid = _again(unpaid, status="paid", attempt_count=2, next_payment_attempt=None)
    # The retry it announces is already due: its outcome comes with its own event.
    overdue = _invoice(group, attempt=1, retry_in=-60)
    # The last attempt: nothing more will be tried, and the mail says so.
    last = _invoice(group, attempt=4, retry_in=None)
    await service.publish_stripe("invoice.payment_failed", second)
    await service.publish_stripe("invoice.paid", paid)
    await service.applied()  # what came first is applied first
    for event_type, invoice in [
        ("invoice.payment_failed", first),
        ("invoice.payment_failed", second),
        ("invoice.payment_failed", first),
        ("invoice.payment_failed", unpaid),
        ("invoice.payment_failed", overdue),
        ("invoice.payment_failed", last),
    ]:
        await service.publish_stripe(event_type, invoice)

    [mail] = await service.wait_for_mail(second["customer_email"], 1)
    assert mail["subject"] == "Your payment of $12.50 to Chess club failed"
    assert "We will try again on" in mail["text"]
    [final] = await service.wait_for_mail(last["customer_email"], 1)
    assert "try again" not in final["text"] and "try again" not in final["html"]

    async def superseded() -> bool:  # the first attempt (delivered twice), the paid, the overdue
        return await _count(service) - before == 4

    await wait_until(superseded, message="four deliveries of failed attempts superseded")
    [row] = await service.notifications(recipient=second["customer_email"])
    assert (row["source_id"], row["status"]) == (f"{second['id']}#2", "sent")
    for invoice in (unpaid, overdue):
        assert await service.notifications(recipient=invoice["customer_email"]) == []
        assert await service.mail(invoice["customer_email"]) == []


async def test_a_mail_superseded_before_it_went_out_is_not_sent(
    start_service: StartService, infrastructure: Infrastructure
) -> None:
    """While SMTP is down the failed attempts' mails wait; meanwhile a later attempt, the
    invoice's payment and the time of a retry supersede three of them: once the server is back
    only the latest attempt's mail goes out."""
    smtp_port, http_port = free_port(), free_port()
    smtp_url = f"smtp://127.0.0.1:{smtp_port}"
    async with start_service(smtp_url=smtp_url, sink_url=f"http://127.0.0.1:{http_port}") as svc:
        group = unique("grp")
        first = _invoice(group, attempt=1, retry_in=24 * HOUR)
        unpaid = _invoice(group, attempt=1, retry_in=24 * HOUR)
        soon = _invoice(group, attempt=1, retry_in=4)
        for invoice in (first, unpaid, soon):
            await svc.publish_stripe("invoice.payment_failed", invoice)

        async def retrying(*invoices: dict[str, Any]) -> bool:
            rows = [await svc.notifications(recipient=i["customer_email"]) for i in invoices]
            return all(len(r) == 1 and r[0]["attempts"] >= 1 for r in rows)

        await wait_until(lambda: retrying(first, unpaid, soon), message="attempts while down")
        second = _again(first, attempt_count=2, next_payment_attempt=int(time.time() + 3 * HOUR))
        await svc.publish_stripe("invoice.payment_failed", second)
        await svc.publish_stripe("invoice.paid", _again(unpaid, status="paid", attempt_count=2))

        async def statuses() -> dict[str, str] | None:
            rows = await svc.notifications(recipient=first["customer_email"])
            rows += await svc.notifications(recipient=unpaid["customer_email"])
            rows += await svc.notifications(recipient=soon["customer_email"])
            found = {r["source_id"]: r["status"] for r in rows}
            return found if list(found.values()).count("superseded") == 3 else None

        found = await wait_until(statuses, message="three mails superseded while SMTP is down")
        assert found.pop(f"{first['id']}#2") in ("pending", "sending")  # retried until SMTP is up
        assert found == {
            f"{first['id']}#1": "superseded",
            f"{unpaid['id']}#1": "superseded",
            f"{soon['id']}#1": "superseded",  # its retry came before SMTP did
        }
        sink = await start_sink(
            infrastructure, "mail-sink-superseded", smtp_port=smtp_port, http_port=http_port
        )
        try:
            [mail] = await svc.wait_for_mail(first["customer_email"], 1)
            assert "We will try again on" in mail["text"]
            [row] = [
                r
                for r in await svc.notifications(recipient=first["customer_email"])
                if r["status"] == "sent"
            ]
            assert row["source_id"] == f"{first['id']}#2"
            for invoice in (unpaid, soon):
                assert await svc.mail(invoice["customer_email"]) == []
        finally:
            sink.stop()
