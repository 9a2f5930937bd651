"""Subscription lifecycle: start (paid at once, or incomplete until its first invoice is
paid), expire when left incomplete, renew or fail, update, cancel."""

from typing import Any

from stripe_emulator.emulator import Emulator
from stripe_emulator.errors import invalid
from stripe_emulator.objects import billing as build
from stripe_emulator.objects import catalog
from stripe_emulator.operations import (
    invoices,
    pausing,
    payment_methods,
    payments,
    prorations,
    setup_intents,
)
from stripe_emulator.operations.cards import normalize
from stripe_emulator.operations.payments import Payment
from stripe_emulator.operations.periods import add_interval
from stripe_emulator.store import StripeObject

INCOMPLETE_SECONDS = 23 * 3600
"""How long a subscription stays `incomplete` before it expires, as on Stripe."""


def trial_end(trial: dict[str, Any], now: int) -> int:
    """When an asked-for trial (`{"seconds" | "end", "behavior"}`) ends, for a subscription
    starting at `now`."""
    end: int = trial["end"] if trial["end"] is not None else now + trial["seconds"]
    return end


def start(
    emulator: Emulator,
    *,
    customer: StripeObject,
    lines: list[tuple[StripeObject, int]],
    metadata: dict[str, str],
    coupons: list[tuple[str, str | None]],
    method: StripeObject | None,
    default_payment_method: str | None = None,
    save_default_payment_method: str = "off",
    trial_end: int | None = None,
    missing_payment_method: str = "create_invoice",
    pending_setup: bool = False,
) -> tuple[StripeObject, StripeObject]:
    """A subscription and its first invoice, finalized at once. With `method` the invoice is
    charged now (Checkout, `allow_incomplete`): paid, the subscription is `active`. Otherwise,
    or when that payment declines or asks for authentication, it stays `incomplete` until the
    invoice's payment intent succeeds (`default_incomplete`). With `trial_end` it is
    `trialing` until then, its first invoice a paid one of 0 for the trial period; with
    `pending_setup` (`default_incomplete`) and no payment method, a pending SetupIntent collects
    the card its first period will be billed to."""
    store, now = emulator.store, emulator.now()
    currency = lines[0][0]["currency"]
    subscription = build.subscription(
        created=now,
        customer=customer["id"],
        currency=currency,
        metadata=metadata,
        discounts=[],
        default_payment_method=default_payment_method,
        save_default_payment_method=save_default_payment_method,
    )
    subscription["status"] = "incomplete"
    if trial_end is not None:
        subscription.update(trial_start=now, trial_end=trial_end)
        subscription["trial_settings"]["end_behavior"]["missing_payment_method"] = (
            missing_payment_method
        )
    store.add(subscription, invoices=0)
    for price, quantity in lines:
        recurring = price["recurring"]
        item = build.subscription_item(
            created=now,
            subscription=subscription["id"],
            price=price,
            quantity=quantity,
            period_start=now,
            period_end=trial_end
            or add_interval(now, recurring["interval"], recurring["interval_count"]),
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
        discount_ids=[] if trial_end else _discounts_due(emulator, subscription),
        trial=trial_end is not None,
    )
    store.secret(subscription["id"])["invoices"] = 0 if trial_end else 1
    subscription["latest_invoice"] = invoice["id"]
    intent = invoices.open_intent(emulator, invoice, customer)
    payment = None
    if intent is not None and method is not None:
        payment = payments.attempt(emulator, intent, method)
    if intent is None or (payment is not None and payment.succeeded):
        _activate(subscription, intent)
        if trial_end is not None:
            subscription["status"] = "trialing"
            if method is not None and subscription["default_payment_method"] is None:
                subscription["default_payment_method"] = method["id"]
            if pending_setup and subscription["default_payment_method"] is None:
                pending = setup_intents.for_subscription(emulator, subscription)
                subscription["pending_setup_intent"] = pending["id"]
    emulator.emit("customer.subscription.created", subscription)
    emulator.emit("invoice.created", invoice)
    invoices.finalize(emulator, invoice, customer)
    if payment is not None and payment.requires_action:
        emulator.emit("invoice.payment_action_required", invoice)
    elif intent is None or payment is not None:
        invoices.record_payment(emulator, invoice, payment)
    return subscription, invoice


def _activate(subscription: StripeObject, intent: StripeObject | None) -> dict[str, Any]:
    """Make the subscription `active` (with `on_subscription`, the card that paid becomes its
    default payment method); returns the previous values."""
    previous: dict[str, Any] = {"status": subscription["status"]}
    subscription["status"] = "active"
    saves = subscription["payment_settings"]["save_default_payment_method"] == "on_subscription"
    paid_with = intent["payment_method"] if intent is not None else None
    if saves and paid_with is not None and subscription["default_payment_method"] != paid_with:
        previous["default_payment_method"] = subscription["default_payment_method"]
        subscription["default_payment_method"] = paid_with
    return previous


def settle(emulator: Emulator, invoice: StripeObject, payment: Payment) -> None:
    """Apply a later payment of the invoice's intent (confirmed through the API, or after a
    3-D Secure challenge) to the invoice and its subscription."""
    if invoice["status"] != "open":
        return
    if payment.requires_action:
        emulator.emit("invoice.payment_action_required", invoice)
        return
    if not invoices.record_payment(emulator, invoice, payment):
        return
    subscription_id = invoice["parent"]["subscription_details"]["subscription"]
    subscription = emulator.store.objects[subscription_id]
    if subscription["status"] in ("incomplete", "past_due", "unpaid"):
        previous = _activate(subscription, payment.intent)
        emulator.emit("customer.subscription.updated", subscription, previous)


def expire_incomplete(emulator: Emulator, subscription: StripeObject) -> StripeObject:
    """An `incomplete` subscription whose first invoice went unpaid ends `incomplete_expired`:
    the invoice is voided, then `customer.subscription.updated`."""
    invoices.void(emulator, emulator.store.objects[subscription["latest_invoice"]])
    now = emulator.now()
    previous = {"status": subscription["status"], "canceled_at": None, "ended_at": None}
    subscription.update(status="incomplete_expired", canceled_at=now, ended_at=now)
    emulator.emit("customer.subscription.updated", subscription, previous)
    return subscription


def expire_due(emulator: Emulator) -> None:
    """Expire subscriptions left `incomplete` for 23 hours."""
    deadline = emulator.now() - INCOMPLETE_SECONDS
    for subscription in emulator.store.all("subscription"):
        if subscription["status"] == "incomplete" and subscription["created"] <= deadline:
            expire_incomplete(emulator, subscription)


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
    """Move to the next period (or retry the open invoice when past_due), as time would; an
    `incomplete` subscription's 23 hours pass."""
    status = subscription["status"]
    if status in ("canceled", "incomplete_expired"):
        raise invalid(f"Subscription {subscription['id']} is {status}.", param="subscription")
    if status == "incomplete":
        return expire_incomplete(emulator, subscription)
    secret = emulator.store.secret(subscription["id"])
    customer = emulator.store.objects[subscription["customer"]]
    if status == "trialing":
        warn_trial_end(emulator, subscription)
        ending = subscription["cancel_at_period_end"]
        if not ending and not card_number and not _has_method(subscription, customer):
            return _trial_ends_without_method(emulator, subscription, customer)
    if status in ("past_due", "unpaid"):
        retried = renewal_method(emulator, subscription, customer, card_number)
        return _retry(emulator, subscription, customer, retried, on_failure)
    if subscription["cancel_at_period_end"]:
        return cancel(emulator, subscription, reason="cancellation_requested")
    pausing.resume_due(emulator, subscription)
    paused = subscription["pause_collection"]
    card = None if paused else renewal_method(emulator, subscription, customer, card_number)
    previous_items = emulator.store.snapshot(subscription["items"])
    _next_period(subscription)
    emulator.emit("customer.subscription.updated", subscription, {"items": previous_items})
    invoice = invoices.draft(
        emulator,
        subscription=subscription,
        customer=customer,
        billing_reason="subscription_cycle",
        discount_ids=_discounts_due(emulator, subscription),
        extra_lines=secret.pop(prorations.PENDING, []),
    )
    secret["invoices"] = secret.get("invoices", 0) + 1
    emulator.emit("invoice.created", invoice)
    previous = {"latest_invoice": subscription["latest_invoice"]}
    subscription["latest_invoice"] = invoice["id"]
    if paused:
        pausing.leave_uncollected(emulator, invoice, customer, paused["behavior"])
        emulator.emit("customer.subscription.updated", subscription, previous)
        return subscription
    assert card is not None
    invoices.finalize(emulator, invoice, customer)
    payment = collect(emulator, invoice, customer, card)
    if invoices.record_payment(emulator, invoice, payment):
        if subscription["status"] == "trialing":  # the trial converts
            previous["status"] = "trialing"
            subscription["status"] = "active"
        emulator.emit("customer.subscription.updated", subscription, previous)
    else:
        previous["status"] = subscription["status"]
        subscription["status"] = "past_due"
        emulator.emit("customer.subscription.updated", subscription, previous)
    return subscription


def _next_period(subscription: StripeObject, start: int | None = None) -> None:
    """Move every item to its next period, from `start` (else the end of the current one)."""
    for item in subscription["items"]["data"]:
        recurring = item["price"]["recurring"]
        begins = item["current_period_end"] if start is None else start
        item["current_period_start"] = begins
        item["current_period_end"] = add_interval(
            begins, recurring["interval"], recurring["interval_count"]
        )


def renewal_method(
    emulator: Emulator, subscription: StripeObject, customer: StripeObject, card_number: str | None
) -> StripeObject:
    """The card a renewal charges: the one given, else the subscription's default payment
    method, else the customer's."""
    if card_number:
        return payment_methods.for_card(emulator, normalize(card_number))
    method_id = (
        subscription["default_payment_method"]
        or customer["invoice_settings"]["default_payment_method"]
    )
    if method_id is None:
        raise invalid(
            f"Subscription {subscription['id']} has no default payment method to charge; "
            "pass card_number.",
            param="card_number",
        )
    return emulator.store.objects[method_id]


def collect(
    emulator: Emulator,
    invoice: StripeObject,
    customer: StripeObject,
    method: StripeObject,
    *,
    off_session: bool = True,
) -> Payment | None:
    """Charge the invoice's payment intent, off session unless the customer is there (None
    when nothing is due)."""
    intent = invoices.intent_of(emulator, invoice) or invoices.open_intent(
        emulator, invoice, customer
    )
    if intent is None:
        return None
    return payments.attempt(emulator, intent, method, off_session=off_session)


def replaced(subscription: StripeObject, changes: dict[str, Any]) -> dict[str, Any]:
    """The values `changes` replace (an event's `previous_attributes`)."""
    return {key: subscription[key] for key, value in changes.items() if subscription[key] != value}


def issue(
    emulator: Emulator, subscription: StripeObject, invoice: StripeObject, customer: StripeObject
) -> str | None:
    """Finalize the subscription's new invoice and make it the latest; the one it replaces."""
    emulator.emit("invoice.created", invoice)
    invoices.finalize(emulator, invoice, customer)
    latest: str | None = subscription["latest_invoice"]
    subscription["latest_invoice"] = invoice["id"]
    return latest


def _retry(
    emulator: Emulator,
    subscription: StripeObject,
    customer: StripeObject,
    card: StripeObject,
    on_failure: str,
) -> StripeObject:
    invoice = emulator.store.objects[subscription["latest_invoice"]]
    payment = collect(emulator, invoice, customer, card)
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
    previous = replaced(subscription, changes)
    if previous:
        subscription.update(changes)
        emulator.emit("customer.subscription.updated", subscription, previous)
    return subscription


def change_price(
    emulator: Emulator,
    subscription: StripeObject,
    item: StripeObject,
    price: StripeObject,
    behavior: str,
    changes: dict[str, Any],
) -> StripeObject:
    """Bill `item` on `price` from now, with the other `changes` of the same request, in one
    `customer.subscription.updated`; with `always_invoice` its prorations are invoiced and
    charged to the default payment method at once."""
    previous = replaced(subscription, changes)
    previous["items"] = emulator.store.snapshot(subscription["items"])
    subscription.update(changes)
    invoice = prorations.change_price(emulator, subscription, item, price, behavior)
    emulator.emit("customer.subscription.updated", subscription, previous)
    if invoice is None:
        return subscription
    customer = emulator.store.objects[subscription["customer"]]
    latest = {"latest_invoice": issue(emulator, subscription, invoice, customer)}
    method = renewal_method(emulator, subscription, customer, None)
    invoices.record_payment(emulator, invoice, collect(emulator, invoice, customer, method))
    emulator.emit("customer.subscription.updated", subscription, latest)
    return subscription


def restart_now(
    emulator: Emulator, subscription: StripeObject, changes: dict[str, Any]
) -> StripeObject:
    """`billing_cycle_anchor=now` (without prorations): the period restarts now and its
    invoice is charged to the default payment method at once (declined: `past_due`)."""
    now, customer = emulator.now(), emulator.store.objects[subscription["customer"]]
    card = renewal_method(emulator, subscription, customer, None)
    previous = replaced(subscription, changes)
    previous["items"] = emulator.store.snapshot(subscription["items"])
    subscription.update(changes, billing_cycle_anchor=now)
    _next_period(subscription, start=now)
    invoice = invoices.draft(
        emulator,
        subscription=subscription,
        customer=customer,
        billing_reason="subscription_update",
        discount_ids=_discounts_due(emulator, subscription),
    )
    previous["latest_invoice"] = issue(emulator, subscription, invoice, customer)
    if not invoices.record_payment(emulator, invoice, collect(emulator, invoice, customer, card)):
        previous["status"] = subscription["status"]
        subscription["status"] = "past_due"
    emulator.emit("customer.subscription.updated", subscription, previous)
    return subscription


def warn_trial_end(emulator: Emulator, subscription: StripeObject) -> None:
    """`customer.subscription.trial_will_end`, once per trial (Stripe: three days before)."""
    secret = emulator.store.secret(subscription["id"])
    if subscription["status"] == "trialing" and not secret.get("trial_warned"):
        secret["trial_warned"] = True
        emulator.emit("customer.subscription.trial_will_end", subscription)


def _has_method(subscription: StripeObject, customer: StripeObject) -> bool:
    return bool(
        subscription["default_payment_method"]
        or customer["invoice_settings"]["default_payment_method"]
    )


def _trial_ends_without_method(
    emulator: Emulator, subscription: StripeObject, customer: StripeObject
) -> StripeObject:
    """A trial ending with no payment method, by `trial_settings.end_behavior`: `cancel`
    ends it, `pause` pauses it, `create_invoice` bills the next period (unpaid: past_due)."""
    behavior = subscription["trial_settings"]["end_behavior"]["missing_payment_method"]
    if behavior == "cancel":
        return cancel(emulator, subscription, reason="cancellation_requested")
    if behavior == "pause":
        previous = {"status": subscription["status"]}
        subscription["status"] = "paused"
        emulator.emit("customer.subscription.updated", subscription, previous)
        emulator.emit("customer.subscription.paused", subscription)
        return subscription
    previous_items = emulator.store.snapshot(subscription["items"])
    _next_period(subscription)
    invoice = invoices.draft(
        emulator,
        subscription=subscription,
        customer=customer,
        billing_reason="subscription_cycle",
        discount_ids=_discounts_due(emulator, subscription),
    )
    previous = {"status": subscription["status"], "items": previous_items}
    previous["latest_invoice"] = issue(emulator, subscription, invoice, customer)
    subscription["status"] = "past_due"
    emulator.emit("customer.subscription.updated", subscription, previous)
    return subscription
