"""Subscriptions, invoices, invoice payments and customer portal sessions."""

from typing import Any

from stripe_emulator.api import Call, StripeRouter
from stripe_emulator.errors import invalid, missing_param, no_such
from stripe_emulator.listing import paginate
from stripe_emulator.objects import billing
from stripe_emulator.operations import (
    discounts,
    pausing,
    payment_methods,
    pending_updates,
    prorations,
    subscriptions,
)
from stripe_emulator.operations.invoices import subscription_of
from stripe_emulator.routes import checkout
from stripe_emulator.store import StripeObject
from stripe_emulator.wire import Params

api = StripeRouter()
PAYMENT_BEHAVIORS = (
    "allow_incomplete",
    "default_incomplete",
    "error_if_incomplete",
    "pending_if_incomplete",
)
SUBSCRIPTION_STATUSES = (
    "active",
    "past_due",
    "unpaid",
    "canceled",
    "incomplete",
    "incomplete_expired",
    "trialing",
    "paused",
    "all",
    "ended",
)


@api.post("/v1/subscriptions")
def create_subscription(call: Call) -> StripeObject:
    """Create a subscription billed automatically. `default_incomplete`: `incomplete`, its first
    invoice open with a payment intent to confirm (`latest_invoice.confirmation_secret`), or
    with a trial `trialing` with a SetupIntent to confirm (`pending_setup_intent`);
    `allow_incomplete` (the default): the invoice is charged to the default payment method."""
    p, em = call.params, call.emulator
    customer = em.store.find("customer", p.req("customer"), param="customer")
    items = p.items("items")
    if not items:
        raise missing_param("items")
    lines = []
    for index, item in enumerate(items):
        param = f"items[{index}][price]"
        price = checkout.active_price(call, item.req("price"), param=param)
        if price["recurring"] is None:
            raise invalid(
                "The price specified is set to `type=one_time` but this field only accepts "
                "prices with `type=recurring`.",
                param=param,
            )
        quantity = item.integer("quantity")
        if quantity is not None and quantity < 1:
            raise invalid("Invalid positive integer", param=f"items[{index}][quantity]")
        lines.append((price, quantity or 1))
    checkout.same_terms([price for price, _ in lines], param="items")
    behavior = p.choice("payment_behavior", PAYMENT_BEHAVIORS) or "allow_incomplete"
    if behavior not in ("allow_incomplete", "default_incomplete"):
        raise invalid(
            f"payment_behavior={behavior} is not covered by this emulator (see its README).",
            param="payment_behavior",
        )
    save = p.sub("payment_settings").choice(
        "save_default_payment_method", ("off", "on_subscription")
    )
    default_id = p.text("default_payment_method")
    if default_id is not None:
        payment_methods.attached_to(em, customer["id"], default_id, param="default_payment_method")
    trial = checkout.trial_of(p, em.now())
    method = None
    if behavior == "allow_incomplete":
        method_id = default_id or customer["invoice_settings"]["default_payment_method"]
        if method_id is None and trial is None:
            raise invalid(
                "This customer has no attached payment source or default payment method. "
                "Please consider adding a default payment method."
            )
        method = em.store.objects[method_id] if method_id else None
    chosen = discounts.pairs(em.store, checkout.requested_discounts(call))
    subscription, _ = subscriptions.start(
        em,
        customer=customer,
        lines=lines,
        metadata=p.metadata(),
        coupons=chosen,
        method=method,
        default_payment_method=default_id,
        save_default_payment_method=save or "off",
        trial_end=subscriptions.trial_end(trial, em.now()) if trial else None,
        missing_payment_method=trial["behavior"] if trial else "create_invoice",
        pending_setup=behavior == "default_incomplete",
    )
    for coupon_id, promotion_code_id in chosen:
        discounts.redeem(em.store, coupon_id, promotion_code_id)
    return subscription


@api.get("/v1/subscriptions/{id}")
def retrieve_subscription(call: Call) -> StripeObject:
    """Retrieve a subscription."""
    return call.emulator.store.find("subscription", call.path["id"])


@api.get("/v1/subscriptions")
def list_subscriptions(call: Call) -> StripeObject:
    """List subscriptions by `customer`, `price` or `status` (default: all but canceled)."""
    p = call.params
    customer, price = p.text("customer"), p.text("price")
    status = p.choice("status", SUBSCRIPTION_STATUSES)
    items = [
        s
        for s in call.emulator.store.all("subscription")
        if (customer is None or s["customer"] == customer)
        and (price is None or any(i["price"]["id"] == price for i in s["items"]["data"]))
        and _status_matches(s["status"], status)
    ]
    return call.page(items, "/v1/subscriptions")


def _status_matches(actual: str, wanted: str | None) -> bool:
    if wanted == "all":
        return True
    if wanted == "ended":
        return actual in ("canceled", "incomplete_expired")
    if wanted is None:
        return actual not in ("canceled", "incomplete_expired")
    return actual == wanted


@api.post("/v1/subscriptions/{id}")
def update_subscription(call: Call) -> StripeObject:
    """Update metadata, `cancel_at_period_end`, `cancel_at`, description, cancellation details,
    `default_payment_method`, `pause_collection`, an item's price (`items[][id]` +
    `items[][price]`, prorated by `proration_behavior`; with `pending_if_incomplete`, applied
    once paid), or restart the period now (`billing_cycle_anchor=now`)."""
    p, em = call.params, call.emulator
    subscription = em.store.find("subscription", call.path["id"])
    changes: dict[str, Any] = {}
    if p.has("metadata"):
        changes["metadata"] = p.metadata(subscription["metadata"])
    if p.has("cancellation_details"):
        details = p.sub("cancellation_details")
        changes["cancellation_details"] = {
            **subscription["cancellation_details"],
            **{k: details.text(k) for k in ("comment", "feedback") if details.has(k)},
        }
    restricted: dict[str, Any] = {}
    if p.has("cancel_at_period_end"):
        restricted["cancel_at_period_end"] = p.flag("cancel_at_period_end")
    if p.has("cancel_at"):
        restricted["cancel_at"] = p.integer("cancel_at")
    if p.has("description"):
        restricted["description"] = p.text("description")
    if p.has("default_payment_method"):
        method_id = p.req("default_payment_method")
        payment_methods.attached_to(
            em, subscription["customer"], method_id, param="default_payment_method"
        )
        restricted["default_payment_method"] = method_id
    if p.has("pause_collection"):
        restricted["pause_collection"] = pausing.requested(p, em.now())
    restart = _anchor_reset(p)
    if restricted and subscription["status"] in ("canceled", "incomplete_expired"):
        raise invalid(
            "A canceled subscription can only update its cancellation_details and metadata."
        )
    changed = prorations.changed_item(em, subscription, p.items("items"))
    behavior = p.choice("proration_behavior", prorations.BEHAVIORS) or "create_prorations"
    if changed is not None:
        restricted["items"] = changed
    if restricted and subscription["status"] == "incomplete":
        raise invalid(
            "A subscription with status `incomplete` can only update its metadata until its "
            "first invoice is paid."
        )
    if restart and (changed is not None or behavior != "none"):
        raise invalid(
            "billing_cycle_anchor=now is covered by this emulator only with "
            "proration_behavior=none and no price change (see its README).",
            param="billing_cycle_anchor",
        )
    if restart:
        return subscriptions.restart_now(em, subscription, {**changes, **restricted})
    if changed is not None:
        del restricted["items"]
        item, price = changed
        if _pending_if_incomplete(p, restricted) and behavior == "always_invoice":
            return pending_updates.change_price(em, subscription, item, price, changes)
        return subscriptions.change_price(
            em, subscription, item, price, behavior, {**changes, **restricted}
        )
    return subscriptions.update(em, subscription, {**changes, **restricted})


def _pending_if_incomplete(p: Params, restricted: dict[str, Any]) -> bool:
    """Whether the update asks for a pending update: only a price change (and metadata, as
    API versions since 2026-05-27 allow) may wait for its payment."""
    behavior = p.choice("payment_behavior", PAYMENT_BEHAVIORS) or "allow_incomplete"
    if behavior in ("default_incomplete", "error_if_incomplete"):
        raise invalid(
            f"payment_behavior={behavior} on an update is not covered by this emulator "
            "(see its README).",
            param="payment_behavior",
        )
    if behavior == "pending_if_incomplete" and restricted:
        raise invalid(
            f"The parameter {next(iter(restricted))} cannot be used with "
            "payment_behavior=pending_if_incomplete.",
            param=next(iter(restricted)),
        )
    return behavior == "pending_if_incomplete"


def _anchor_reset(p: Params) -> bool:
    """Whether the update restarts the period now: `billing_cycle_anchor[type]=now` (the
    object API versions since 2026-09-30 take), or `billing_cycle_anchor=now` (earlier)."""
    anchors = ("now", "unchanged")
    if isinstance(p.data.get("billing_cycle_anchor"), dict):
        return p.sub("billing_cycle_anchor").choice("type", anchors) == "now"
    return p.choice("billing_cycle_anchor", anchors) == "now"


@api.post("/v1/invoices/create_preview")
def preview_invoice(call: Call) -> StripeObject:
    """Preview the invoice a subscription's price change would make
    (`subscription_details[items]`, `subscription_details[proration_behavior]`)."""
    p, em = call.params, call.emulator
    subscription = em.store.find("subscription", p.req("subscription"), param="subscription")
    details = p.sub("subscription_details")
    changed = prorations.changed_item(em, subscription, details.items("items"))
    if changed is None:
        raise missing_param("subscription_details[items]")
    behavior = details.choice("proration_behavior", prorations.BEHAVIORS) or "create_prorations"
    item, price = changed
    return prorations.preview(em, subscription, item, price, behavior)


@api.delete("/v1/subscriptions/{id}")
def cancel_subscription(call: Call) -> StripeObject:
    """Cancel a subscription now; a canceled one answers Stripe's 404."""
    em = call.emulator
    subscription = em.store.find("subscription", call.path["id"])
    if subscription["status"] in ("canceled", "incomplete_expired"):
        raise no_such("subscription", subscription["id"])
    details = call.params.sub("cancellation_details")
    if details.has("comment"):
        subscription["cancellation_details"]["comment"] = details.text("comment")
    if details.has("feedback"):
        subscription["cancellation_details"]["feedback"] = details.text("feedback")
    return subscriptions.cancel(em, subscription, reason="cancellation_requested")


@api.get("/v1/invoices/{id}")
def retrieve_invoice(call: Call) -> StripeObject:
    """Retrieve an invoice."""
    return call.emulator.store.find("invoice", call.path["id"])


@api.get("/v1/invoices")
def list_invoices(call: Call) -> StripeObject:
    """List invoices by `customer`, `subscription` or `status`."""
    p = call.params
    customer, subscription, status = p.text("customer"), p.text("subscription"), p.text("status")
    items = [
        i
        for i in call.emulator.store.all("invoice")
        if (customer is None or i["customer"] == customer)
        and (subscription is None or subscription_of(i) == subscription)
        and (status is None or i["status"] == status)
    ]
    return call.page(items, "/v1/invoices")


@api.get("/v1/invoices/{id}/lines")
def list_invoice_lines(call: Call) -> StripeObject:
    """List an invoice's line items."""
    invoice = call.emulator.store.find("invoice", call.path["id"])
    return paginate(invoice["lines"]["data"], call.params, invoice["lines"]["url"])


@api.get("/v1/invoice_payments/{id}")
def retrieve_invoice_payment(call: Call) -> StripeObject:
    """Retrieve an invoice payment."""
    return call.emulator.store.find("invoice_payment", call.path["id"])


@api.get("/v1/invoice_payments")
def list_invoice_payments(call: Call) -> StripeObject:
    """List invoice payments by `invoice` or `payment[payment_intent]`."""
    p = call.params
    invoice, intent = p.text("invoice"), p.sub("payment").text("payment_intent")
    items = [
        x
        for x in call.emulator.store.all("invoice_payment")
        if (invoice is None or x["invoice"] == invoice)
        and (intent is None or x["payment"]["payment_intent"] == intent)
    ]
    return call.page(items, "/v1/invoice_payments")


@api.post("/v1/billing_portal/sessions")
def create_portal_session(call: Call) -> StripeObject:
    """Create a customer portal session."""
    p, em = call.params, call.emulator
    customer = em.store.find("customer", p.req("customer"), param="customer")
    return em.store.add(
        billing.portal_session(
            created=em.now(),
            base_url=em.settings.base_url,
            customer=customer["id"],
            return_url=p.text("return_url"),
            locale=p.text("locale"),
        )
    )
