"""Subscription lifecycle: start from checkout, renew or fail, update, cancel."""

from typing import Any

from stripe_emulator.emulator import Emulator
from stripe_emulator.errors import invalid
from stripe_emulator.objects import billing as build
from stripe_emulator.objects import catalog
from stripe_emulator.operations import invoices
from stripe_emulator.operations.payments import Payment, pay
from stripe_emulator.operations.periods import add_interval
from stripe_emulator.store import StripeObject


def start(
    emulator: Emulator,
    *,
    customer: StripeObject,
    lines: list[tuple[StripeObject, int]],
    metadata: dict[str, str],
    coupons: list[tuple[str, str | None]],
    card_number: str,
) -> tuple[StripeObject, StripeObject]:
    """A subscription and its first invoice, paid by `card_number` (checked to pay)."""
    store, now = emulator.store, emulator.now()
    currency = lines[0][0]["currency"]
    subscription = build.subscription(
        created=now,
        customer=customer["id"],
        currency=currency,
        metadata=metadata,
        discounts=[],
        default_payment_method=None,
    )
    store.add(subscription, card_number=card_number, invoices=0)
    for price, quantity in lines:
        recurring = price["recurring"]
        item = build.subscription_item(
            created=now,
            subscription=subscription["id"],
            price=price,
            quantity=quantity,
            period_start=now,
            period_end=add_interval(now, recurring["interval"], recurring["interval_count"]),
        )
        subscription["items"]["data"].append(item)
    subscription["items"]["total_count"] = len(lines)
    for coupon_id, promotion_code in coupons:
        discount = store.add(
            catalog.discount(
                start=now,
                coupon_id=coupon_id,
                promotion_code=promotion_code,
                customer=customer["id"],
                checkout_session=None,
                subscription=subscription["id"],
                invoice=None,
            )
        )
        subscription["discounts"].append(discount["id"])
    invoice = invoices.draft(
        emulator,
        subscription=subscription,
        customer=customer,
        billing_reason="subscription_create",
        discount_ids=_discounts_due(emulator, subscription),
    )
    store.secret(subscription["id"])["invoices"] = 1
    payment = _charge(emulator, invoice, customer, card_number, "Subscription creation")
    subscription["default_payment_method"] = payment.intent["payment_method"] if payment else None
    subscription["latest_invoice"] = invoice["id"]
    emulator.emit("customer.subscription.created", subscription)
    emulator.emit("invoice.created", invoice)
    invoices.finalize(emulator, invoice, customer)
    invoices.record_payment(emulator, invoice, payment)
    return subscription, invoice


def _charge(
    emulator: Emulator,
    invoice: StripeObject,
    customer: StripeObject,
    card_number: str,
    description: str,
) -> Payment | None:
    if invoice["amount_due"] == 0:
        return None
    return pay(
        emulator,
        amount=invoice["amount_due"],
        currency=invoice["currency"],
        customer=customer["id"],
        card_number=card_number,
        metadata={},
        description=description,
        email=customer["email"],
    )


def _discounts_due(emulator: Emulator, subscription: StripeObject) -> list[str]:
    """Discounts that still apply to the next invoice (by coupon duration)."""
    store = emulator.store
    billed = store.secret(subscription["id"]).get("invoices", 0)
    due = []
    for discount_id in subscription["discounts"]:
        coupon = store.get(store.objects[discount_id]["source"]["coupon"])
        if coupon is None:
            continue
        duration = coupon["duration"]
        if (
            duration == "forever"
            or (duration == "once" and billed == 0)
            or (duration == "repeating" and billed < (coupon["duration_in_months"] or 0))
        ):
            due.append(discount_id)
    return due


def advance(
    emulator: Emulator, subscription: StripeObject, *, card_number: str | None, on_failure: str
) -> StripeObject:
    """Move to the next period (or retry the open invoice when past_due), as time would."""
    status = subscription["status"]
    if status in ("canceled", "incomplete_expired"):
        raise invalid(f"Subscription {subscription['id']} is {status}.", param="subscription")
    secret = emulator.store.secret(subscription["id"])
    card = card_number or secret["card_number"]
    customer = emulator.store.objects[subscription["customer"]]
    if status in ("past_due", "unpaid"):
        return _retry(emulator, subscription, customer, card, on_failure)
    if subscription["cancel_at_period_end"]:
        return cancel(emulator, subscription, reason="cancellation_requested")
    previous_items = emulator.store.snapshot(subscription["items"])
    for item in subscription["items"]["data"]:
        recurring = item["price"]["recurring"]
        start = item["current_period_end"]
        item["current_period_start"] = start
        item["current_period_end"] = add_interval(
            start, recurring["interval"], recurring["interval_count"]
        )
    emulator.emit("customer.subscription.updated", subscription, {"items": previous_items})
    invoice = invoices.draft(
        emulator,
        subscription=subscription,
        customer=customer,
        billing_reason="subscription_cycle",
        discount_ids=_discounts_due(emulator, subscription),
    )
    secret["invoices"] = secret.get("invoices", 0) + 1
    emulator.emit("invoice.created", invoice)
    invoices.finalize(emulator, invoice, customer)
    previous = {"latest_invoice": subscription["latest_invoice"]}
    subscription["latest_invoice"] = invoice["id"]
    payment = _charge(emulator, invoice, customer, card, "Subscription update")
    if invoices.record_payment(emulator, invoice, payment):
        emulator.emit("customer.subscription.updated", subscription, previous)
    else:
        previous["status"] = subscription["status"]
        subscription["status"] = "past_due"
        emulator.emit("customer.subscription.updated", subscription, previous)
    return subscription


def _retry(
    emulator: Emulator,
    subscription: StripeObject,
    customer: StripeObject,
    card: str,
    on_failure: str,
) -> StripeObject:
    invoice = emulator.store.objects[subscription["latest_invoice"]]
    payment = _charge(emulator, invoice, customer, card, "Subscription update")
    previous = {"status": subscription["status"]}
    if invoices.record_payment(emulator, invoice, payment):
        subscription["status"] = "active"
        emulator.emit("customer.subscription.updated", subscription, previous)
    elif on_failure == "canceled":
        return cancel(emulator, subscription, reason="payment_failed")
    elif subscription["status"] != "unpaid":
        subscription["status"] = "unpaid"
        emulator.emit("customer.subscription.updated", subscription, previous)
    return subscription


def cancel(emulator: Emulator, subscription: StripeObject, *, reason: str) -> StripeObject:
    now = emulator.now()
    subscription.update(
        status="canceled",
        canceled_at=subscription["canceled_at"] or now,
        ended_at=now,
    )
    subscription["cancellation_details"]["reason"] = reason
    emulator.emit("customer.subscription.deleted", subscription)
    return subscription


def update(emulator: Emulator, subscription: StripeObject, changes: dict[str, Any]) -> StripeObject:
    """Apply changed fields; emits `customer.subscription.updated` with previous values."""
    ending_changed = changes.get("cancel_at_period_end", subscription["cancel_at_period_end"])
    if ending_changed != subscription["cancel_at_period_end"]:
        ending = changes["cancel_at_period_end"]
        period_end = subscription["items"]["data"][0]["current_period_end"]
        changes["cancel_at"] = period_end if ending else None
        changes["canceled_at"] = emulator.now() if ending else None
    previous = {
        key: subscription[key] for key, value in changes.items() if subscription[key] != value
    }
    if previous:
        subscription.update(changes)
        emulator.emit("customer.subscription.updated", subscription, previous)
    return subscription
