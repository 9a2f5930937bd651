"""Payment intents, charges, refunds and balance transactions."""

from collections import defaultdict

from stripe_emulator.api import Call, StripeRouter
from stripe_emulator.errors import invalid
from stripe_emulator.objects import payments as build
from stripe_emulator.operations import payments
from stripe_emulator.store import StripeObject

api = StripeRouter()
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")


@api.post("/v1/payment_intents")
def create_payment_intent(call: Call) -> StripeObject:
    """Create a payment intent (it waits for a payment method; confirm is not emulated)."""
    p, em = call.params, call.emulator
    amount = p.integer("amount", required=True)
    assert amount is not None
    if amount < 1:
        raise invalid("Amount must be at least 1", param="amount", code="amount_too_small")
    customer = p.text("customer")
    if customer:
        em.store.find("customer", customer, param="customer")
    intent = em.store.add(
        build.payment_intent(
            created=em.now(),
            amount=amount,
            currency=p.req("currency").lower(),
            customer=customer,
            description=p.text("description"),
            metadata=p.metadata(),
        )
    )
    em.emit("payment_intent.created", intent)
    return intent


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
