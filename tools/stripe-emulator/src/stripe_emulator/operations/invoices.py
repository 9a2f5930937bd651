"""Invoices: a subscription's (drafting with discounts, finalizing, their payment intent,
recording payment outcomes, voiding), and the paid one Checkout makes after a one-time
payment."""

from typing import Any

from stripe_emulator.emulator import Emulator
from stripe_emulator.objects import billing as build
from stripe_emulator.objects import catalog
from stripe_emulator.operations import payments
from stripe_emulator.operations.discounts import amount_off, split
from stripe_emulator.operations.payments import Payment
from stripe_emulator.store import StripeObject

RETRY_SECONDS = 3 * 86400
DESCRIPTIONS = {
    "subscription_create": "Subscription creation",
    "subscription_cycle": "Subscription update",
    "subscription_update": "Subscription update",
}


def draft(
    emulator: Emulator,
    *,
    subscription: StripeObject,
    customer: StripeObject,
    billing_reason: str,
    discount_ids: list[str],
    extra_lines: list[dict[str, Any]] | None = None,
    bill_items: bool = True,
    trial: bool = False,
) -> StripeObject:
    """A draft invoice for the subscription's current period, discounts applied to its items;
    `extra_lines` (prorations) billed with them, or alone when not `bill_items`."""
    store, now = emulator.store, emulator.now()
    all_items = subscription["items"]["data"]
    items = all_items if bill_items else []
    first = all_items[0]
    invoice = build.invoice(
        created=now,
        customer=customer,
        subscription=subscription,
        billing_reason=billing_reason,
        period_start=first["current_period_start"],
        period_end=first["current_period_end"],
        discounts=discount_ids,
    )
    subtotals = [0 if trial else item["price"]["unit_amount"] * item["quantity"] for item in items]
    subtotal = sum(subtotals)
    discount_total = 0
    total_discount_amounts = []
    for discount_id in discount_ids:
        coupon = store.get(store.objects[discount_id]["source"]["coupon"])
        off = amount_off(coupon, subtotal - discount_total, invoice["currency"]) if coupon else 0
        discount_total += off
        total_discount_amounts.append({"amount": off, "discount": discount_id})
    shares = split(discount_total, subtotals)
    invoice["lines"] = {
        "object": "list",
        "data": [
            build.invoice_line(
                invoice_id=invoice["id"],
                item=item,
                subscription_id=subscription["id"],
                amount_discount=share,
                discounts=discount_ids,
                description=(
                    f"Trial period for {_product_name(emulator, item)}"
                    if trial
                    else f"{item['quantity']} \u00d7 {_product_name(emulator, item)}"
                ),
                # Stripe copies the subscription's metadata onto its lines when it bills them.
                metadata=dict(subscription["metadata"]),
            )
            for item, share in zip(items, shares, strict=True)
        ],
        "has_more": False,
        "total_count": len(items),
        "url": f"/v1/invoices/{invoice['id']}/lines",
    }
    for line in invoice["lines"]["data"] if trial else []:
        line.update(amount=0, subtotal=0)  # a trial bills nothing for its period
    for line in extra_lines or []:
        invoice["lines"]["data"].append({**line, "invoice": invoice["id"]})
        subtotal += line["amount"]
    invoice["lines"]["total_count"] = len(invoice["lines"]["data"])
    total = subtotal - discount_total
    invoice.update(
        subtotal=subtotal,
        subtotal_excluding_tax=subtotal,
        total=total,
        total_excluding_tax=total,
        amount_due=max(total, 0),
        amount_remaining=max(total, 0),
        total_discount_amounts=total_discount_amounts,
    )
    return store.add(invoice)


def _product_name(emulator: Emulator, item: StripeObject) -> str:
    product = emulator.store.get(item["price"]["product"])
    name: str = product["name"] if product else item["price"]["id"]
    return name


def finalize(emulator: Emulator, invoice: StripeObject, customer: StripeObject) -> None:
    now = emulator.now()
    sequence = customer["next_invoice_sequence"]
    customer["next_invoice_sequence"] = sequence + 1
    page = f"{emulator.settings.base_url}/invoices/{invoice['id']}"  # served by invoice_pages
    invoice.update(
        status="open",
        number=f"{customer['invoice_prefix']}-{sequence:04d}",
        effective_at=now,
        hosted_invoice_url=page,
        invoice_pdf=f"{page}/pdf",
    )
    invoice["status_transitions"]["finalized_at"] = now
    emulator.emit("invoice.finalized", invoice)


def open_intent(
    emulator: Emulator, invoice: StripeObject, customer: StripeObject
) -> StripeObject | None:
    """The payment intent that collects the invoice, and the invoice payment linking them
    (`invoice.payments`); None when nothing is due. Stripe copies no metadata onto it; the first
    invoice's intent saves its card for the renewals (`setup_future_usage`)."""
    if invoice["amount_due"] == 0:
        return None
    first = invoice["billing_reason"] == "subscription_create"
    intent = payments.create_intent(
        emulator,
        amount=invoice["amount_due"],
        currency=invoice["currency"],
        customer=customer["id"],
        description=DESCRIPTIONS.get(invoice["billing_reason"]),
        metadata={},
        setup_future_usage="off_session" if first else None,
    )
    link = emulator.store.add(
        build.invoice_payment(created=emulator.now(), invoice=invoice, payment_intent=intent["id"])
    )
    emulator.store.secret(intent["id"])["invoice"] = invoice["id"]
    emulator.store.secret(invoice["id"]).update(payment_intent=intent["id"], payment=link["id"])
    return intent


def subscription_of(invoice: StripeObject) -> str | None:
    """The subscription an invoice bills; None for one with no subscription parent (the
    invoice Checkout makes after a one-time payment)."""
    parent = invoice["parent"]
    if parent is None or parent["subscription_details"] is None:
        return None
    subscription: str = parent["subscription_details"]["subscription"]
    return subscription


def intent_of(emulator: Emulator, invoice: StripeObject) -> StripeObject | None:
    """The invoice's payment intent, if it has one."""
    return emulator.store.get(emulator.store.secret(invoice["id"]).get("payment_intent") or "")


def invoice_of(emulator: Emulator, intent: StripeObject) -> StripeObject | None:
    """The invoice a payment intent collects, if it collects one."""
    return emulator.store.get(emulator.store.secret(intent["id"]).get("invoice") or "")


def record_payment(emulator: Emulator, invoice: StripeObject, payment: Payment | None) -> bool:
    """Apply a payment attempt (None when nothing is due); emits paid or payment_failed.
    A failed renewal is retried in three days; a first invoice is not retried."""
    now = emulator.now()
    invoice["attempted"] = True
    invoice["attempt_count"] += 1
    if payment is not None and not payment.succeeded:
        if invoice["billing_reason"] != "subscription_create":
            invoice["next_payment_attempt"] = now + RETRY_SECONDS
        emulator.emit("invoice.payment_failed", invoice)
        return False
    link = emulator.store.get(emulator.store.secret(invoice["id"]).get("payment") or "")
    if link is not None:  # Stripe's link of the invoice to what paid it
        link.update(status="paid", amount_paid=invoice["amount_due"])
        link["status_transitions"]["paid_at"] = now
        emulator.emit("invoice_payment.paid", link)
    invoice.update(
        status="paid",
        amount_paid=invoice["amount_due"],
        amount_remaining=0,
        next_payment_attempt=None,
    )
    invoice["status_transitions"]["paid_at"] = now
    emulator.emit("invoice.paid", invoice)
    emulator.emit("invoice.payment_succeeded", invoice)
    return True


def void(emulator: Emulator, invoice: StripeObject) -> None:
    """Void an open invoice: `invoice.voided`, and its payment intent canceled."""
    now = emulator.now()
    invoice.update(status="void", next_payment_attempt=None)
    invoice["status_transitions"]["voided_at"] = now
    emulator.emit("invoice.voided", invoice)
    intent = intent_of(emulator, invoice)
    if intent is not None and intent["status"] in payments.CANCELABLE:
        payments.cancel(emulator, intent, reason="void_invoice")
    link = emulator.store.get(emulator.store.secret(invoice["id"]).get("payment") or "")
    if link is not None:
        link["status"] = "canceled"
        link["status_transitions"]["canceled_at"] = now


def issue_paid(
    emulator: Emulator,
    *,
    customer: StripeObject,
    lines: list[StripeObject],
    coupons: list[tuple[str, str | None]],
    checkout_session: str,
    payment_intent: str | None,
    invoice_data: StripeObject,
) -> StripeObject:
    """The invoice Checkout makes after a one-time payment (`invoice_creation`): the session's
    `lines` (its `item`s, discounts included) billed to no subscription (`parent: null`,
    `billing_reason: manual`), finalized and paid at once by the session's payment intent,
    linked to it by an invoice payment. Emits `invoice.created`, `invoice.finalized` and
    `invoice.paid`, the events Stripe documents for it."""
    store, now = emulator.store, emulator.now()
    invoice = build.invoice(
        created=now,
        customer=customer,
        subscription=None,
        billing_reason="manual",
        period_start=now,
        period_end=now,
        discounts=[],
        currency=lines[0]["currency"],
    )
    discount_ids = [
        store.add(
            catalog.discount(
                start=now,
                coupon_id=coupon_id,
                promotion_code=promotion_code,
                customer=customer["id"],
                checkout_session=checkout_session,
                subscription=None,
                invoice=invoice["id"],
            )
        )["id"]
        for coupon_id, promotion_code in coupons
    ]
    data = [
        build.one_time_line(
            invoice_id=invoice["id"],
            price=item["price"],
            quantity=item["quantity"],
            amount_discount=item["amount_discount"],
            discounts=discount_ids,
            description=item["description"],
            at=now,
        )
        for item in lines
    ]
    subtotal = sum(item["amount_subtotal"] for item in lines)
    discount = sum(item["amount_discount"] for item in lines)
    total = subtotal - discount
    invoice.update(
        auto_advance=False,
        description=invoice_data["description"],
        footer=invoice_data["footer"],
        metadata=dict(invoice_data["metadata"] or {}),
        discounts=discount_ids,
        total_discount_amounts=[{"amount": discount, "discount": d} for d in discount_ids],
        lines={
            "object": "list",
            "data": data,
            "has_more": False,
            "total_count": len(data),
            "url": f"/v1/invoices/{invoice['id']}/lines",
        },
        subtotal=subtotal,
        subtotal_excluding_tax=subtotal,
        total=total,
        total_excluding_tax=total,
        amount_due=total,
        amount_remaining=total,
    )
    store.add(invoice)
    emulator.emit("invoice.created", invoice)
    finalize(emulator, invoice, customer)
    if payment_intent is not None:  # what paid it; nothing did when a coupon took it all
        link = store.add(
            build.invoice_payment(created=now, invoice=invoice, payment_intent=payment_intent)
        )
        link.update(status="paid", amount_paid=total)
        link["status_transitions"]["paid_at"] = now
        store.secret(invoice["id"]).update(payment_intent=payment_intent, payment=link["id"])
    invoice.update(status="paid", attempted=True, amount_paid=total, amount_remaining=0)
    invoice["status_transitions"]["paid_at"] = now
    emulator.emit("invoice.paid", invoice)
    return invoice
