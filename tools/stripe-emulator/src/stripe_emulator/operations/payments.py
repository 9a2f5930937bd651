"""Card payments, refunds, disputes and Radar, with their balance transactions and events."""

from dataclasses import dataclass

from stripe_emulator.emulator import Emulator
from stripe_emulator.errors import StripeError, invalid
from stripe_emulator.ids import new_id
from stripe_emulator.objects import payments as build
from stripe_emulator.operations.cards import Decline, brand, outcome_of
from stripe_emulator.store import StripeObject

DISPUTE_FEE = 1500


@dataclass
class Payment:
    intent: StripeObject
    charge: StripeObject
    decline: Decline | None


def fee_for(emulator: Emulator, amount: int) -> int:
    settings = emulator.settings
    return int(amount * settings.fee_percent / 100 + 0.5) + settings.fee_fixed


def pay(
    emulator: Emulator,
    *,
    amount: int,
    currency: str,
    customer: str | None,
    card_number: str,
    metadata: dict[str, str],
    description: str | None = None,
    email: str | None = None,
) -> Payment:
    """Create and confirm a payment intent by card; emits the intent's and charge's events."""
    store, now = emulator.store, emulator.now()
    intent = store.add(
        build.payment_intent(
            created=now,
            amount=amount,
            currency=currency,
            customer=customer,
            description=description,
            metadata=dict(metadata),
        )
    )
    emulator.emit("payment_intent.created", intent)
    decline = outcome_of(card_number)
    method_id = new_id("pm")
    charge = store.add(
        build.charge(
            created=now,
            amount=amount,
            currency=currency,
            customer=customer,
            payment_intent=intent["id"],
            payment_method=method_id,
            card=build.card_details(card_number, brand(card_number)),
            description=description,
            metadata=dict(metadata),
            email=email,
            outcome=build.outcome(
                succeeded=decline is None,
                reason=decline.decline_code if decline else None,
                message=decline.message if decline else None,
            ),
            failure_code=decline.code if decline else None,
            failure_message=decline.message if decline else None,
        )
    )
    intent["latest_charge"] = charge["id"]
    intent["payment_method"] = method_id
    if decline is None:
        fee = fee_for(emulator, amount)
        txn = store.add(
            build.balance_transaction(
                created=now,
                amount=amount,
                fee=fee,
                currency=currency,
                source=charge["id"],
                type="charge",
                reporting_category="charge",
                description=description,
            )
        )
        charge["balance_transaction"] = txn["id"]
        intent.update(status="succeeded", amount_received=amount)
        emulator.emit("charge.succeeded", charge)
        emulator.emit("payment_intent.succeeded", intent)
    else:
        error = decline.error(charge_id=charge["id"], payment_intent=None).body()["error"]
        error["payment_method"] = {"id": method_id, "object": "payment_method", "type": "card"}
        intent.update(status="requires_payment_method", last_payment_error=error)
        emulator.emit("charge.failed", charge)
        emulator.emit("payment_intent.payment_failed", intent)
    return Payment(intent, charge, decline)


def refund(
    emulator: Emulator,
    charge: StripeObject,
    *,
    amount: int | None,
    reason: str | None,
    metadata: dict[str, str],
) -> StripeObject:
    """Refund all or part of a succeeded charge: `charge.refunded`, then `refund.created`."""
    if charge["status"] != "succeeded":
        raise invalid(f"Charge {charge['id']} has not succeeded.", param="charge")
    remaining = charge["amount"] - charge["amount_refunded"]
    if remaining <= 0:
        raise invalid(
            f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
        )
    amount = remaining if amount is None else amount
    if amount <= 0:
        raise invalid("Invalid positive integer", param="amount")
    if amount > remaining:
        raise invalid(
            f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})",
            param="amount",
            code="amount_too_large",
        )
    store, now = emulator.store, emulator.now()
    txn = store.add(
        build.balance_transaction(
            created=now,
            amount=-amount,
            fee=0,
            currency=charge["currency"],
            source="",
            type="refund",
            reporting_category="refund",
            description="REFUND FOR CHARGE",
        )
    )
    created = store.add(
        build.refund(
            created=now,
            amount=amount,
            charge=charge["id"],
            payment_intent=charge["payment_intent"],
            currency=charge["currency"],
            reason=reason,
            metadata=metadata,
            balance_transaction=txn["id"],
        )
    )
    txn["source"] = created["id"]
    previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] == charge["amount"]
    charge["refunds"]["data"].insert(0, store.snapshot(created))
    emulator.emit("charge.refunded", charge, previous)
    emulator.emit("refund.created", created)
    return created


def open_dispute(
    emulator: Emulator, charge: StripeObject, *, amount: int | None, reason: str
) -> StripeObject:
    """A chargeback: funds and the dispute fee are withdrawn at once."""
    if charge["status"] != "succeeded":
        raise invalid(f"Charge {charge['id']} has not succeeded.", param="charge")
    if charge["disputed"]:
        raise invalid(f"Charge {charge['id']} is already disputed.", param="charge")
    store, now = emulator.store, emulator.now()
    card = charge["payment_method_details"]["card"]
    dispute = store.add(
        build.dispute(
            created=now,
            charge=charge,
            amount=amount or charge["amount"],
            reason=reason,
            brand=card["brand"],
        )
    )
    txn = store.add(
        build.balance_transaction(
            created=now,
            amount=-dispute["amount"],
            fee=DISPUTE_FEE,
            currency=charge["currency"],
            source=dispute["id"],
            type="adjustment",
            reporting_category="dispute",
            description=f"Chargeback withdrawal for {charge['id']}",
            fee_description="Dispute fee",
        )
    )
    dispute["balance_transactions"].append(store.snapshot(txn))
    charge["disputed"] = True
    emulator.emit("charge.dispute.created", dispute)
    emulator.emit("charge.dispute.funds_withdrawn", dispute)
    return dispute


def close_dispute(emulator: Emulator, dispute: StripeObject, *, won: bool) -> StripeObject:
    """Settle a dispute; a won one reinstates the funds and the fee."""
    if dispute["status"] in ("won", "lost"):
        raise invalid(f"Dispute {dispute['id']} is already closed.", param="dispute")
    previous = {"status": dispute["status"]}
    dispute["status"] = "won" if won else "lost"
    emulator.emit("charge.dispute.closed", dispute, previous)
    if won:
        store = emulator.store
        txn = store.add(
            build.balance_transaction(
                created=emulator.now(),
                amount=dispute["amount"],
                fee=-DISPUTE_FEE,
                currency=dispute["currency"],
                source=dispute["id"],
                type="adjustment",
                reporting_category="dispute_reversal",
                description=f"Chargeback reversal for {dispute['charge']}",
                fee_description="Dispute fee refund",
            )
        )
        dispute["balance_transactions"].append(store.snapshot(txn))
        emulator.emit("charge.dispute.funds_reinstated", dispute)
    return dispute


def early_fraud_warning(
    emulator: Emulator, charge: StripeObject, *, fraud_type: str
) -> StripeObject:
    warning = emulator.store.add(
        build.early_fraud_warning(created=emulator.now(), charge=charge, fraud_type=fraud_type)
    )
    emulator.emit("radar.early_fraud_warning.created", warning)
    return warning


def open_review(emulator: Emulator, charge: StripeObject, *, reason: str) -> StripeObject:
    review = emulator.store.add(
        build.review(created=emulator.now(), charge=charge, opened_reason=reason)
    )
    charge["review"] = review["id"]
    intent = emulator.store.get(charge["payment_intent"] or "")
    if intent is not None:
        intent["review"] = review["id"]
    emulator.emit("review.opened", review)
    return review


REVIEW_CLOSE_REASONS = ("approved", "refunded", "refunded_as_fraud", "disputed", "redacted")


def close_review(emulator: Emulator, review: StripeObject, *, reason: str) -> StripeObject:
    if not review["open"]:
        raise StripeError(400, f"Review {review['id']} is already closed.", param="review")
    previous = {"open": True, "reason": review["reason"], "closed_reason": None}
    review.update(open=False, reason=reason, closed_reason=reason)
    emulator.emit("review.closed", review, previous)
    return review
