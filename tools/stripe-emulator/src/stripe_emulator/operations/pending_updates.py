"""Pending updates (`payment_behavior=pending_if_incomplete`): a price change billed now
(`always_invoice`) applies only once its invoice is paid. The invoice is charged on session
(the customer is making the change: a card may ask for 3-D Secure); unpaid, the subscription
keeps its price and metadata, the change waits in `pending_update`, and the invoice's payment
intent waits for the customer. Paying it later applies the change
(`customer.subscription.pending_update_applied`)."""

from typing import Any

from stripe_emulator.emulator import Emulator
from stripe_emulator.operations import invoices, prorations, subscriptions
from stripe_emulator.store import StripeObject

EXPIRES_SECONDS = 23 * 3600
"""How long a pending update waits for its payment, as on Stripe."""
PENDING = "pending_update"


def change_price(
    emulator: Emulator,
    subscription: StripeObject,
    item: StripeObject,
    price: StripeObject,
    changes: dict[str, Any],
) -> StripeObject:
    """Bill the change now and apply it once paid (at once, or later when its payment
    intent succeeds)."""
    store = emulator.store
    kept_item = store.snapshot(item)
    previous = subscriptions.replaced(subscription, changes)
    previous["items"] = store.snapshot(subscription["items"])
    invoice = prorations.change_price(emulator, subscription, item, price, "always_invoice")
    assert invoice is not None  # always_invoice bills the prorations now
    customer = store.objects[subscription["customer"]]
    previous["latest_invoice"] = subscriptions.issue(emulator, subscription, invoice, customer)
    method = subscriptions.renewal_method(emulator, subscription, customer, None)
    payment = subscriptions.collect(emulator, invoice, customer, method, off_session=False)
    if payment is not None and payment.requires_action:
        emulator.emit("invoice.payment_action_required", invoice)
    elif invoices.record_payment(emulator, invoice, payment):
        subscription.update(changes)
        emulator.emit("customer.subscription.updated", subscription, previous)
        return subscription
    changed = store.snapshot(item)
    item.clear()
    item.update(kept_item)
    metadata = changes.get("metadata")
    store.secret(subscription["id"])[PENDING] = {
        "invoice": invoice["id"],
        "item": changed,
        "metadata": metadata,
    }
    subscription[PENDING] = {
        "billing_cycle_anchor": None,
        "expires_at": emulator.now() + EXPIRES_SECONDS,
        "metadata": metadata,
        "subscription_items": [changed],
        "trial_end": None,
        "trial_from_plan": None,
    }
    waiting = {"latest_invoice": previous["latest_invoice"], PENDING: None}
    emulator.emit("customer.subscription.updated", subscription, waiting)
    return subscription


def apply_paid(emulator: Emulator, invoice: StripeObject) -> None:
    """The pending update a paid `invoice` was for, applied (nothing when it is none's)."""
    subscription = emulator.store.get(invoices.subscription_of(invoice) or "")
    if subscription is None or invoice["status"] != "paid":
        return
    secret = emulator.store.secret(subscription["id"])
    pending = secret.get(PENDING)
    if pending is None or pending["invoice"] != invoice["id"]:
        return
    del secret[PENDING]
    previous: dict[str, Any] = {
        "items": emulator.store.snapshot(subscription["items"]),
        PENDING: subscription[PENDING],
    }
    for item in subscription["items"]["data"]:
        if item["id"] == pending["item"]["id"]:
            item.clear()
            item.update(pending["item"])
    if pending["metadata"] is not None:
        previous["metadata"] = subscription["metadata"]
        subscription["metadata"] = pending["metadata"]
    subscription[PENDING] = None
    emulator.emit("customer.subscription.updated", subscription, previous)
    emulator.emit("customer.subscription.pending_update_applied", subscription)
