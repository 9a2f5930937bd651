"""Card payments, refunds, disputes and Radar, with their balance transactions and events."""

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from stripe_emulator.emulator import Emulator
from stripe_emulator.errors import StripeError, invalid
from stripe_emulator.ids import new_id
from stripe_emulator.objects import payments as build
from stripe_emulator.operations import payment_methods
from stripe_emulator.operations.cards import (
    AUTHENTICATION_FAILED,
    AUTHENTICATION_REQUIRED,
    Decline,
    brand,
    outcome_of,
    requires_authentication,
)
from stripe_emulator.store import StripeObject

DISPUTE_FEE = 1500
CANCELABLE = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
)


@dataclass
class Payment:
    """One attempt to pay a payment intent: its charge (none while a 3-D Secure challenge is
    pending, nor when it failed) and why the attempt failed, if it did."""

    intent: StripeObject
    charge: StripeObject | None
    decline: Decline | None

    @property
    def succeeded(self) -> bool:
        return bool(self.intent["status"] == "succeeded")

    @property
    def requires_action(self) -> bool:
        return bool(self.intent["status"] == "requires_action")


def fee_for(emulator: Emulator, amount: int) -> int:
    settings = emulator.settings
    return int(amount * settings.fee_percent / 100 + 0.5) + settings.fee_fixed


def unexpected_state(intent: StripeObject, message: str) -> StripeError:
    """Stripe's 400 for an action the intent's status does not allow (the intent included)."""
    return StripeError(
        400,
        message,
        code="payment_intent_unexpected_state",
        extra={"payment_intent": dict(intent)},
    )


def create_intent(
    emulator: Emulator,
    *,
    amount: int,
    currency: str,
    customer: str | None,
    description: str | None,
    metadata: dict[str, str],
    automatic_payment_methods: dict[str, Any] | None = None,
    setup_future_usage: str | None = None,
    receipt_email: str | None = None,
) -> StripeObject:
    """A payment intent waiting for a payment method (`payment_intent.created`)."""
    intent = emulator.store.add(
        build.payment_intent(
            created=emulator.now(),
            amount=amount,
            currency=currency,
            customer=customer,
            description=description,
            metadata=dict(metadata),
            automatic_payment_methods=automatic_payment_methods,
            setup_future_usage=setup_future_usage,
            receipt_email=receipt_email,
        )
    )
    emulator.emit("payment_intent.created", intent)
    return intent


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
    """Create a payment intent and confirm it with a card at once, as Checkout does."""
    intent = create_intent(
        emulator,
        amount=amount,
        currency=currency,
        customer=customer,
        description=description,
        metadata=metadata,
        receipt_email=email,
    )
    method = payment_methods.for_card(emulator, card_number, email=email)
    return attempt(emulator, intent, method)


def attempt(
    emulator: Emulator,
    intent: StripeObject,
    method: StripeObject,
    *,
    off_session: bool = False,
    return_url: str | None = None,
) -> Payment:
    """Confirm `intent` with a card: it pays, declines, or asks for a 3-D Secure challenge
    (off session, such a card declines with `authentication_required`)."""
    number = payment_methods.card_number(emulator, method)
    decline = outcome_of(number)
    if decline is None and requires_authentication(number):
        if not off_session:
            return _ask_for_authentication(emulator, intent, method, return_url)
        decline = AUTHENTICATION_REQUIRED
    return _charge(emulator, intent, method, decline, authentication=None)


def challenge_url(emulator: Emulator, intent: StripeObject) -> str:
    """The page where the cardholder completes or fails the challenge."""
    secret = quote(intent["client_secret"])
    return f"{emulator.settings.base_url}/3d_secure/{intent['id']}?client_secret={secret}"


def _ask_for_authentication(
    emulator: Emulator, intent: StripeObject, method: StripeObject, return_url: str | None
) -> Payment:
    url = challenge_url(emulator, intent)
    if return_url is not None:
        next_action: dict[str, Any] = {
            "redirect_to_url": {"return_url": return_url, "url": url},
            "type": "redirect_to_url",
        }
    else:  # what Stripe.js handles (handleNextAction / confirmCardPayment)
        next_action = {
            "type": "use_stripe_sdk",
            "use_stripe_sdk": {
                "source": new_id("src"),
                "stripe_js": url,
                "type": "three_d_secure_redirect",
            },
        }
    emulator.store.secret(intent["id"])["return_url"] = return_url
    intent.update(
        status="requires_action",
        payment_method=method["id"],
        next_action=next_action,
        last_payment_error=None,
    )
    emulator.emit("payment_intent.requires_action", intent)
    return Payment(intent, None, None)


def authenticate(emulator: Emulator, intent: StripeObject, *, succeeded: bool) -> Payment:
    """Finish the pending 3-D Secure challenge: the card is charged, or the intent goes back
    to waiting for a payment method (`payment_intent_authentication_failure`, no charge)."""
    if intent["status"] != "requires_action":
        raise unexpected_state(
            intent,
            f"This PaymentIntent has no pending authentication (status: {intent['status']}).",
        )
    method = emulator.store.objects[intent["payment_method"]]
    intent["next_action"] = None
    if succeeded:
        return _charge(
            emulator, intent, method, None, authentication=build.three_d_secure(succeeded=True)
        )
    error = AUTHENTICATION_FAILED.body(payment_method=emulator.store.snapshot(method))
    intent.update(status="requires_payment_method", payment_method=None, last_payment_error=error)
    emulator.emit("payment_intent.payment_failed", intent)
    return Payment(intent, None, AUTHENTICATION_FAILED)


def cancel(emulator: Emulator, intent: StripeObject, *, reason: str | None) -> StripeObject:
    """Cancel an unfinished payment intent (`payment_intent.canceled`)."""
    if intent["status"] not in CANCELABLE:
        raise unexpected_state(
            intent,
            "You cannot cancel this PaymentIntent because it has a status of "
            f"{intent['status']}. Only a PaymentIntent with one of the following statuses may "
            f"be canceled: {', '.join(CANCELABLE)}.",
        )
    intent.update(
        status="canceled", canceled_at=emulator.now(), cancellation_reason=reason, next_action=None
    )
    emulator.emit("payment_intent.canceled", intent)
    return intent


def _charge(
    emulator: Emulator,
    intent: StripeObject,
    method: StripeObject,
    decline: Decline | None,
    *,
    authentication: dict[str, Any] | None,
) -> Payment:
    """The charge of one confirmation, with its balance transaction and events."""
    store, now = emulator.store, emulator.now()
    if decline is None and intent["setup_future_usage"] and intent["customer"]:
        payment_methods.attach(emulator, method, intent["customer"])  # saved for later payments
    number = payment_methods.card_number(emulator, method)
    amount, currency = intent["amount"], intent["currency"]
    charge = store.add(
        build.charge(
            created=now,
            amount=amount,
            currency=currency,
            customer=intent["customer"],
            payment_intent=intent["id"],
            payment_method=method["id"],
            card=build.card_details(number, brand(number), authentication),
            description=intent["description"],
            # Stripe copies the intent's metadata onto its charge once, at confirmation.
            metadata=dict(intent["metadata"]),
            billing_details=store.snapshot(method["billing_details"]),
            receipt_email=intent["receipt_email"],
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
    if decline is None:
        txn = store.add(
            build.balance_transaction(
                created=now,
                amount=amount,
                fee=fee_for(emulator, amount),
                currency=currency,
                source=charge["id"],
                type="charge",
                reporting_category="charge",
                description=intent["description"],
            )
        )
        charge["balance_transaction"] = txn["id"]
        intent.update(
            status="succeeded",
            amount_received=amount,
            payment_method=method["id"],
            last_payment_error=None,
        )
        emulator.emit("charge.succeeded", charge)
        emulator.emit("payment_intent.succeeded", intent)
    else:
        error = decline.body(charge=charge["id"], payment_method=store.snapshot(method))
        intent.update(
            status="requires_payment_method", payment_method=None, last_payment_error=error
        )
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
