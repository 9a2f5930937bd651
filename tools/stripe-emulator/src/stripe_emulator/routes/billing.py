"""Subscriptions, invoices, invoice payments and customer portal sessions."""

from typing import Any

from stripe_emulator.api import Call, StripeRouter
from stripe_emulator.errors import invalid, no_such
from stripe_emulator.listing import paginate
from stripe_emulator.objects import billing
from stripe_emulator.operations import subscriptions
from stripe_emulator.store import StripeObject

api = StripeRouter()
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
    """Update metadata, `cancel_at_period_end`, `cancel_at`, description or cancellation details."""
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
    if restricted and subscription["status"] == "canceled":
        raise invalid(
            "A canceled subscription can only update its cancellation_details and metadata."
        )
    return subscriptions.update(em, subscription, {**changes, **restricted})


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
        and (
            subscription is None
            or i["parent"]["subscription_details"]["subscription"] == subscription
        )
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
