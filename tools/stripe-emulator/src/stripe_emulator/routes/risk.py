"""Disputes, early fraud warnings and reviews."""

from stripe_emulator.api import Call, StripeRouter
from stripe_emulator.operations import payments
from stripe_emulator.store import StripeObject

api = StripeRouter()


@api.get("/v1/disputes/{id}")
def retrieve_dispute(call: Call) -> StripeObject:
    """Retrieve a dispute."""
    return call.emulator.store.find("dispute", call.path["id"])


@api.post("/v1/disputes/{id}")
def update_dispute(call: Call) -> StripeObject:
    """Update a dispute's metadata."""
    dispute = call.emulator.store.find("dispute", call.path["id"])
    changes = {"metadata": call.params.metadata(dispute["metadata"])}
    return call.change(dispute, changes, "charge.dispute.updated")


@api.post("/v1/disputes/{id}/close")
def close_dispute(call: Call) -> StripeObject:
    """Accept a dispute: it is closed as lost."""
    dispute = call.emulator.store.find("dispute", call.path["id"])
    return payments.close_dispute(call.emulator, dispute, won=False)


@api.get("/v1/disputes")
def list_disputes(call: Call) -> StripeObject:
    """List disputes by `charge` or `payment_intent`."""
    p = call.params
    charge, intent = p.text("charge"), p.text("payment_intent")
    items = [
        x
        for x in call.emulator.store.all("dispute")
        if (charge is None or x["charge"] == charge)
        and (intent is None or x["payment_intent"] == intent)
    ]
    return call.page(items, "/v1/disputes")


@api.get("/v1/radar/early_fraud_warnings/{id}")
def retrieve_early_fraud_warning(call: Call) -> StripeObject:
    """Retrieve an early fraud warning."""
    return call.emulator.store.find("radar.early_fraud_warning", call.path["id"])


@api.get("/v1/radar/early_fraud_warnings")
def list_early_fraud_warnings(call: Call) -> StripeObject:
    """List early fraud warnings by `charge` or `payment_intent`."""
    p = call.params
    charge, intent = p.text("charge"), p.text("payment_intent")
    items = [
        x
        for x in call.emulator.store.all("radar.early_fraud_warning")
        if (charge is None or x["charge"] == charge)
        and (intent is None or x["payment_intent"] == intent)
    ]
    return call.page(items, "/v1/radar/early_fraud_warnings")


@api.get("/v1/reviews/{id}")
def retrieve_review(call: Call) -> StripeObject:
    """Retrieve a review."""
    return call.emulator.store.find("review", call.path["id"])


@api.post("/v1/reviews/{id}/approve")
def approve_review(call: Call) -> StripeObject:
    """Approve (close) an open review."""
    review = call.emulator.store.find("review", call.path["id"])
    return payments.close_review(call.emulator, review, reason="approved")


@api.get("/v1/reviews")
def list_reviews(call: Call) -> StripeObject:
    """List open reviews."""
    items = [x for x in call.emulator.store.all("review") if x["open"]]
    return call.page(items, "/v1/reviews")
