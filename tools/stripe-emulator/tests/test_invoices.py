"""Checkout's post-payment invoices (`invoice_creation`) and the hosted invoice page and PDF of
every finalized invoice."""

import io
from typing import Any

import httpx
import pytest
import stripe
from pypdf import PdfReader

from stripe_emulator.testing import RunningEmulator

CONTRACT = {"user_id": "user-1", "group_id": "g1", "purpose": "purchase", "reference": "r-7"}


def payment_session(
    client: stripe.StripeClient, catalog: dict[str, Any], **extra: Any
) -> stripe.checkout.Session:
    """A payment-mode session for two of the one-time price, with a paid invoice asked for."""
    params: Any = {
        "mode": "payment",
        "line_items": [{"price": catalog["once"].id, "quantity": 2}],
        "customer_email": "ada@example.com",
        "metadata": CONTRACT,
        "payment_intent_data": {"metadata": CONTRACT},
        "invoice_creation": {
            "enabled": True,
            "invoice_data": {
                "description": "Workshop ticket",
                "footer": "Thank you for coming",
                "metadata": CONTRACT,
            },
        },
        "success_url": "https://app.example/done",
    }
    return client.v1.checkout.sessions.create(params | extra)


def pay(emulator: RunningEmulator, session_id: str, card: str = "4242424242424242") -> Any:
    return emulator.control(
        "POST", f"/checkout/sessions/{session_id}/complete", json={"card_number": card}
    )


def events_of(emulator: RunningEmulator, object_id: str) -> list[str]:
    return [e["type"] for e in emulator.events() if e["data"]["object"]["id"] == object_id]


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_a_paid_session_with_invoice_creation_gets_a_paid_invoice_of_its_payment(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    session = payment_session(client, catalog)
    assert session.invoice is None
    asked = session.invoice_creation
    assert asked is not None and asked.enabled is True
    assert asked.invoice_data.description == "Workshop ticket"
    assert asked.invoice_data.footer == "Thank you for coming"
    assert asked.invoice_data.metadata.to_dict() == CONTRACT

    paid = pay(emulator, session.id)["session"]

    assert paid["invoice"] and paid["invoice"].startswith("in_")
    invoice = client.v1.invoices.retrieve(paid["invoice"])
    assert (invoice.status, invoice.billing_reason, invoice.parent) == ("paid", "manual", None)
    assert invoice.customer == paid["customer"]
    assert (
        invoice.amount_due == invoice.amount_paid == invoice.total == paid["amount_total"] == 3000
    )
    assert (invoice.amount_remaining, invoice.currency) == (0, "eur")
    assert (invoice.description, invoice.footer) == ("Workshop ticket", "Thank you for coming")
    assert invoice.metadata is not None and invoice.metadata.to_dict() == CONTRACT
    assert invoice.number and invoice.number.endswith("-0001")
    assert invoice.status_transitions.paid_at is not None
    assert invoice.hosted_invoice_url == f"{emulator.base_url}/invoices/{invoice.id}"
    assert invoice.invoice_pdf == f"{emulator.base_url}/invoices/{invoice.id}/pdf"
    [line] = invoice.lines.data
    assert (line.amount, line.quantity, line.description) == (3000, 2, "Gold membership")
    assert line.pricing is not None and line.pricing.price_details is not None
    assert line.pricing.price_details.price == catalog["once"].id
    assert line.parent is not None and line.parent.type == "invoice_item_details"
    assert line.subscription is None

    [link] = client.v1.invoice_payments.list({"invoice": invoice.id}).data
    assert (link.status, link.amount_paid) == ("paid", 3000)
    assert link.payment.payment_intent == paid["payment_intent"]
    by_intent = client.v1.invoice_payments.list(
        {"payment": {"payment_intent": link.payment.payment_intent}}
    )
    assert [p.id for p in by_intent.data] == [link.id]

    assert events_of(emulator, invoice.id) == [
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
    ]
    [completed] = emulator.events("checkout.session.completed")
    assert completed["data"]["object"]["invoice"] == invoice.id
    types = emulator.event_types()
    assert types.index("invoice.paid") < types.index("checkout.session.completed")

    listed = client.v1.invoices.list({"customer": paid["customer"]}).data
    assert [i.id for i in listed] == [invoice.id]


def test_without_invoice_creation_a_payment_makes_no_invoice(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    session = client.v1.checkout.sessions.create(
        {"mode": "payment", "line_items": [{"price": catalog["once"].id, "quantity": 1}]}
    )
    creation = session.invoice_creation
    assert creation is not None and creation.enabled is False
    assert creation.invoice_data.metadata.to_dict() == {}
    assert creation.invoice_data.description is None

    paid = pay(emulator, session.id)["session"]

    assert paid["invoice"] is None
    assert client.v1.invoices.list({"customer": paid["customer"]}).data == []
    assert not [t for t in emulator.event_types() if t.startswith("invoice")]


def test_invoice_creation_is_refused_outside_payment_mode_and_needs_enabled(
    client: stripe.StripeClient, catalog: dict[str, Any]
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as outside:
        client.v1.checkout.sessions.create(
            {
                "mode": "subscription",
                "line_items": [{"price": catalog["monthly"].id, "quantity": 1}],
                "invoice_creation": {"enabled": True},
            }
        )
    assert outside.value.param == "invoice_creation"
    with pytest.raises(stripe.InvalidRequestError) as missing:
        payment_session(client, catalog, invoice_creation={"invoice_data": {"footer": "x"}})
    assert (missing.value.code, missing.value.param) == (
        "parameter_missing",
        "invoice_creation[enabled]",
    )
    subscription = client.v1.checkout.sessions.create(
        {"mode": "subscription", "line_items": [{"price": catalog["monthly"].id, "quantity": 1}]}
    )
    assert subscription.invoice_creation is None


def test_a_discounted_session_invoices_what_was_paid(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    coupon = client.v1.coupons.create({"percent_off": 25, "duration": "once"})
    session = payment_session(client, catalog, discounts=[{"coupon": coupon.id}])

    paid = pay(emulator, session.id)["session"]

    invoice = client.v1.invoices.retrieve(paid["invoice"])
    assert (invoice.subtotal, invoice.total, invoice.amount_paid) == (3000, 2250, 2250)
    [discount] = invoice.total_discount_amounts or []
    assert discount.amount == 750 and invoice.discounts == [discount.discount]
    [line] = invoice.lines.data
    assert [d.amount for d in line.discount_amounts or []] == [750]


def test_a_payment_completed_after_3d_secure_gets_its_invoice_then(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    session = payment_session(client, catalog)
    waiting = pay(emulator, session.id, card="4000002760003184")
    assert waiting["outcome"] == "requires_action"
    intent_id = waiting["payment_intent"]
    assert client.v1.checkout.sessions.retrieve(session.id).invoice is None

    emulator.control(
        "POST",
        f"/payment_intents/{intent_id}/authenticate",
        json={"outcome": "succeed"},
    )

    completed = client.v1.checkout.sessions.retrieve(session.id)
    assert completed.status == "complete" and completed.invoice is not None
    invoice = client.v1.invoices.retrieve(completed.invoice)  # type: ignore[arg-type]
    assert (invoice.status, invoice.amount_paid) == ("paid", 3000)
    [link] = client.v1.invoice_payments.list({"invoice": invoice.id}).data
    assert link.payment.payment_intent == intent_id


def test_every_finalized_invoice_has_a_page_and_a_pdf_with_the_same_content(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    paid = pay(emulator, payment_session(client, catalog).id)["session"]
    one_off = client.v1.invoices.retrieve(paid["invoice"])
    customer = client.v1.customers.create({"email": "bo@example.com"})
    subscription = client.v1.subscriptions.create(
        {
            "customer": customer.id,
            "items": [{"price": catalog["monthly"].id}],
            "payment_behavior": "default_incomplete",
        }
    )
    recurring = client.v1.invoices.retrieve(str(subscription.latest_invoice))

    for invoice, status, line, total in (
        (one_off, "paid", "Gold membership", "30.00 EUR"),
        (recurring, "open", "1 \u00d7 Gold membership", "20.00 EUR"),
    ):
        assert invoice.hosted_invoice_url and invoice.invoice_pdf and invoice.number
        page = httpx.get(invoice.hosted_invoice_url)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        for text in (invoice.number, status, line, total):
            assert text in page.text, (invoice.id, text)
        assert f"href='/invoices/{invoice.id}/pdf'" in page.text

        pdf = httpx.get(invoice.invoice_pdf)
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF-")
        text = pdf_text(pdf.content)
        for wanted in (invoice.number, status, line, total):
            assert wanted in text, (invoice.id, wanted, text)
    assert "Workshop ticket" in pdf_text(httpx.get(str(one_off.invoice_pdf)).content)


def test_an_unknown_invoice_has_no_page(emulator: RunningEmulator) -> None:
    for path in ("/invoices/in_nothing", "/invoices/in_nothing/pdf", "/invoices/cus_x"):
        answer = httpx.get(f"{emulator.base_url}{path}")
        assert answer.status_code == 404 and "Invoice not found" in answer.text
