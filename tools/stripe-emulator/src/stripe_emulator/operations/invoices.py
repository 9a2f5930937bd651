"""Subscription invoices: drafting with discounts, finalizing, and recording payment outcomes."""

from stripe_emulator.emulator import Emulator
from stripe_emulator.objects import billing as build
from stripe_emulator.operations.discounts import amount_off, split
from stripe_emulator.operations.payments import Payment
from stripe_emulator.store import StripeObject


def draft(
    emulator: Emulator,
    *,
    subscription: StripeObject,
    customer: StripeObject,
    billing_reason: str,
    discount_ids: list[str],
) -> StripeObject:
    """A draft invoice for the subscription's current period, discounts applied."""
    store, now = emulator.store, emulator.now()
    items = subscription["items"]["data"]
    first = items[0]
    invoice = build.invoice(
        created=now,
        customer=customer,
        subscription=subscription,
        billing_reason=billing_reason,
        period_start=first["current_period_start"],
        period_end=first["current_period_end"],
        discounts=discount_ids,
    )
    subtotals = [item["price"]["unit_amount"] * item["quantity"] for item in items]
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
                description=f"{item['quantity']} \u00d7 {_product_name(emulator, item)}",
            )
            for item, share in zip(items, shares, strict=True)
        ],
        "has_more": False,
        "total_count": len(items),
        "url": f"/v1/invoices/{invoice['id']}/lines",
    }
    total = subtotal - discount_total
    invoice.update(
        subtotal=subtotal,
        subtotal_excluding_tax=subtotal,
        total=total,
        total_excluding_tax=total,
        amount_due=total,
        amount_remaining=total,
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
    invoice.update(
        status="open",
        number=f"{customer['invoice_prefix']}-{sequence:04d}",
        effective_at=now,
        hosted_invoice_url=f"{emulator.settings.base_url}/invoices/{invoice['id']}",
    )
    invoice["status_transitions"]["finalized_at"] = now
    emulator.emit("invoice.finalized", invoice)


def record_payment(emulator: Emulator, invoice: StripeObject, payment: Payment | None) -> bool:
    """Apply a payment attempt (None when nothing is due); emits paid or payment_failed."""
    now = emulator.now()
    invoice["attempted"] = True
    invoice["attempt_count"] += 1
    paid = payment is None or payment.decline is None
    invoice_payment = None
    if payment is not None:
        invoice_payment = emulator.store.add(
            build.invoice_payment(
                created=now, invoice=invoice, payment_intent=payment.intent["id"], paid=paid
            )
        )
    if paid:
        if invoice_payment is not None:  # Stripe's link of the invoice to what paid it
            emulator.emit("invoice_payment.paid", invoice_payment)
        invoice.update(
            status="paid",
            amount_paid=invoice["amount_due"],
            amount_remaining=0,
            next_payment_attempt=None,
        )
        invoice["status_transitions"]["paid_at"] = now
        emulator.emit("invoice.paid", invoice)
        emulator.emit("invoice.payment_succeeded", invoice)
    else:
        invoice["next_payment_attempt"] = now + 3 * 86400
        emulator.emit("invoice.payment_failed", invoice)
    return paid
