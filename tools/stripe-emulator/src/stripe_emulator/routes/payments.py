"""Payment intents (create, confirm, cancel), charges, refunds and balance transactions."""

from collections import defaultdict
from typing import Any

from stripe_emulator.api import Call, StripeRouter
from stripe_emulator.errors import invalid
from stripe_emulator.operations import intents, invoices, payment_methods, payments
from stripe_emulator.store import StripeObject

api = StripeRouter()
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
FUTURE_USAGES = ("on_session", "off_session")
CANCELLATION_REASONS = ("duplicate", "fraudulent", "requested_by_customer", "abandoned")


@api.post("/v1/payment_intents")
def create_payment_intent(call: Call) -> StripeObject:
    """Create a payment intent; with `confirm=true`, confirm it at once (as the confirm call)."""
    p, em = call.params, call.emulator
    amount = p.integer("amount", required=True)
    assert amount is not None
    if amount < 1:
        raise invalid("Amount must be at least 1", param="amount", code="amount_too_small")
    customer = p.text("customer")
    if customer:
        em.store.find("customer", customer, param="customer")
    for kind in p.strings("payment_method_types"):
        if kind != "card":
            raise invalid(
                f"The payment method type provided: {kind} is invalid. This emulator takes "
                "card payments only.",
                param="payment_method_types",
            )
    intent = payments.create_intent(
        em,
        amount=amount,
        currency=p.req("currency").lower(),
        customer=customer,
        description=p.text("description"),
        metadata=p.metadata(),
        automatic_payment_methods=_automatic_payment_methods(call),
        setup_future_usage=p.choice("setup_future_usage", FUTURE_USAGES),
        receipt_email=p.text("receipt_email"),
    )
    if p.flag("confirm"):
        return _confirm(call, intent)
    method_id = p.text("payment_method")
    if method_id is not None:
        method = payment_methods.resolve(em, method_id)
        intent.update(payment_method=method["id"], status="requires_confirmation")
    return intent


def _automatic_payment_methods(call: Call) -> dict[str, Any] | None:
    """Stripe's default since 2023-08-16: enabled (redirects allowed) unless
    `payment_method_types` is given."""
    p = call.params
    if p.has("automatic_payment_methods") and p.has("payment_method_types"):
        raise invalid(
            "You may only specify one of these parameters: automatic_payment_methods, "
            "payment_method_types.",
            param="automatic_payment_methods",
        )
    settings = p.sub("automatic_payment_methods")
    enabled = settings.flag("enabled")
    if enabled is False or p.has("payment_method_types"):
        return None
    redirects = settings.choice("allow_redirects", ("always", "never")) or "always"
    return {"allow_redirects": redirects, "enabled": True}


@api.post("/v1/payment_intents/{id}/confirm")
def confirm_payment_intent(call: Call) -> StripeObject:
    """Confirm with a payment method (a test one such as `pm_card_visa`, or a `pm_` id): it
    succeeds, declines (402 `card_error`), or waits for 3-D Secure (`requires_action`)."""
    intent = call.emulator.store.find("payment_intent", call.path["id"])
    return _confirm(call, intent)


def _confirm(call: Call, intent: StripeObject) -> StripeObject:
    p, em = call.params, call.emulator
    if p.has("setup_future_usage"):
        intent["setup_future_usage"] = p.choice("setup_future_usage", FUTURE_USAGES)
    payment = intents.confirm(
        em,
        intent,
        method_id=p.text("payment_method"),
        return_url=p.text("return_url"),
        off_session=bool(p.flag("off_session")),
    )
    if payment.decline is not None:
        method = em.store.get(payment.charge["payment_method"]) if payment.charge else None
        raise payment.decline.error(
            charge=payment.charge["id"] if payment.charge else None,
            payment_intent=em.store.snapshot(intent),
            payment_method=em.store.snapshot(method) if method else None,
        )
    return intent


@api.post("/v1/payment_intents/{id}/cancel")
def cancel_payment_intent(call: Call) -> StripeObject:
    """Cancel a payment intent that has not succeeded; one of an invoice is voided with it."""
    em = call.emulator
    intent = em.store.find("payment_intent", call.path["id"])
    if invoices.invoice_of(em, intent) is not None:
        raise payments.unexpected_state(
            intent,
            "You cannot cancel this PaymentIntent because it was created by an invoice. Void "
            "the invoice instead.",
        )
    reason = call.params.choice("cancellation_reason", CANCELLATION_REASONS)
    return payments.cancel(em, intent, reason=reason)


@api.get("/v1/payment_intents/{id}")
def retrieve_payment_intent(call: Call) -> StripeObject:
    """Retrieve a payment intent."""
    return call.emulator.store.find("payment_intent", call.path["id"])


@api.post("/v1/payment_intents/{id}")
def update_payment_intent(call: Call) -> StripeObject:
    """Update a payment intent's metadata or description."""
    p = call.params
    intent = call.emulator.store.find("payment_intent", call.path["id"])
    changes: dict[str, object] = {"metadata": p.metadata(intent["metadata"])}
    if p.has("description"):
        changes["description"] = p.text("description")
    return call.change(intent, changes, None)


@api.get("/v1/payment_intents")
def list_payment_intents(call: Call) -> StripeObject:
    """List payment intents, optionally by `customer`."""
    customer = call.params.text("customer")
    items = [
        x
        for x in call.emulator.store.all("payment_intent")
        if customer is None or x["customer"] == customer
    ]
    return call.page(items, "/v1/payment_intents")


@api.get("/v1/charges/{id}")
def retrieve_charge(call: Call) -> StripeObject:
    """Retrieve a charge."""
    return call.emulator.store.find("charge", call.path["id"])


@api.post("/v1/charges/{id}")
def update_charge(call: Call) -> StripeObject:
    """Update a charge's metadata or description."""
    p = call.params
    charge = call.emulator.store.find("charge", call.path["id"])
    changes: dict[str, object] = {"metadata": p.metadata(charge["metadata"])}
    if p.has("description"):
        changes["description"] = p.text("description")
    return call.change(charge, changes, "charge.updated")


@api.get("/v1/charges")
def list_charges(call: Call) -> StripeObject:
    """List charges by `customer` or `payment_intent`."""
    p = call.params
    customer, intent = p.text("customer"), p.text("payment_intent")
    items = [
        x
        for x in call.emulator.store.all("charge")
        if (customer is None or x["customer"] == customer)
        and (intent is None or x["payment_intent"] == intent)
    ]
    return call.page(items, "/v1/charges")


@api.post("/v1/refunds")
def create_refund(call: Call) -> StripeObject:
    """Refund a charge in full or in part, by `charge` or `payment_intent`."""
    p, em = call.params, call.emulator
    charge_id, intent_id = p.text("charge"), p.text("payment_intent")
    if charge_id is None and intent_id is None:
        raise invalid(
            "One of the following params should be provided for this request: payment_intent "
            "or charge.",
            code="parameter_missing",
        )
    if charge_id is not None:
        charge = em.store.find("charge", charge_id, param="charge")
    else:
        intent = em.store.find("payment_intent", intent_id or "", param="payment_intent")
        if intent["status"] != "succeeded" or intent["latest_charge"] is None:
            raise invalid(
                f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund.",
                param="payment_intent",
            )
        charge = em.store.objects[intent["latest_charge"]]
    return payments.refund(
        em,
        charge,
        amount=p.integer("amount"),
        reason=p.choice("reason", REFUND_REASONS),
        metadata=p.metadata(),
    )


@api.get("/v1/refunds/{id}")
def retrieve_refund(call: Call) -> StripeObject:
    """Retrieve a refund."""
    return call.emulator.store.find("refund", call.path["id"])


@api.post("/v1/refunds/{id}")
def update_refund(call: Call) -> StripeObject:
    """Update a refund's metadata."""
    refund = call.emulator.store.find("refund", call.path["id"])
    return call.change(
        refund, {"metadata": call.params.metadata(refund["metadata"])}, "refund.updated"
    )


@api.get("/v1/refunds")
def list_refunds(call: Call) -> StripeObject:
    """List refunds by `charge` or `payment_intent`."""
    p = call.params
    charge, intent = p.text("charge"), p.text("payment_intent")
    items = [
        x
        for x in call.emulator.store.all("refund")
        if (charge is None or x["charge"] == charge)
        and (intent is None or x["payment_intent"] == intent)
    ]
    return call.page(items, "/v1/refunds")


@api.get("/v1/balance_transactions/{id}")
def retrieve_balance_transaction(call: Call) -> StripeObject:
    """Retrieve a balance transaction."""
    return call.emulator.store.find("balance_transaction", call.path["id"])


@api.get("/v1/balance_transactions")
def list_balance_transactions(call: Call) -> StripeObject:
    """List balance transactions by `type`, `source` or `currency`."""
    p = call.params
    kind, source, currency = p.text("type"), p.text("source"), p.text("currency")
    items = [
        x
        for x in call.emulator.store.all("balance_transaction")
        if (kind is None or x["type"] == kind)
        and (source is None or x["source"] == source)
        and (currency is None or x["currency"] == currency)
    ]
    return call.page(items, "/v1/balance_transactions")


@api.get("/v1/balance")
def retrieve_balance(call: Call) -> StripeObject:
    """The account balance: every balance transaction's net, counted as available."""
    totals: dict[str, int] = defaultdict(int)
    for txn in call.emulator.store.all("balance_transaction"):
        totals[txn["currency"]] += txn["net"]
    amounts = [
        {"amount": amount, "currency": currency, "source_types": {"card": amount}}
        for currency, amount in sorted(totals.items())
    ]
    return {
        "object": "balance",
        "available": amounts,
        "livemode": False,
        "pending": [{**a, "amount": 0, "source_types": {"card": 0}} for a in amounts],
    }
