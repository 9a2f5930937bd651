"""Confirming payment intents and finishing their 3-D Secure challenges, with what the outcome
means for the invoice or Checkout Session an intent pays."""

from stripe_emulator.emulator import Emulator
from stripe_emulator.errors import StripeError
from stripe_emulator.operations import (
    checkout,
    invoices,
    payment_methods,
    payments,
    pending_updates,
    subscriptions,
)
from stripe_emulator.operations.payments import Payment, unexpected_state
from stripe_emulator.store import StripeObject

CONFIRMABLE = ("requires_confirmation", "requires_action", "requires_payment_method")
REDIRECTS_NEED_RETURN_URL = (
    "A `return_url` must be specified because this Payment Intent is configured to "
    "automatically accept the payment methods enabled in the Dashboard, some of which may "
    "require a full page redirect to succeed. If you do not want to accept redirect-based "
    "payment methods, set `automatic_payment_methods[enabled]` to `true` and "
    "`automatic_payment_methods[allow_redirects]` to `never` when creating Setup Intents and "
    "Payment Intents."
)


def confirm(
    emulator: Emulator,
    intent: StripeObject,
    *,
    method_id: str | None,
    return_url: str | None,
    off_session: bool,
) -> Payment:
    """Confirm with a payment method (given, or set before): it pays, declines, or asks for
    3-D Secure. Checked first as Stripe does: the status, a payment method, a `return_url`
    when automatic payment methods allow redirects, the customer the method belongs to."""
    if intent["status"] not in CONFIRMABLE:
        if intent["status"] == "succeeded":
            message = (
                "You cannot confirm this PaymentIntent because it has already succeeded after "
                "being previously confirmed."
            )
        else:
            message = (
                "You cannot confirm this PaymentIntent because it has a status of "
                f"{intent['status']}. Only a PaymentIntent with one of the following statuses "
                f"may be confirmed: {', '.join(CONFIRMABLE)}."
            )
        raise unexpected_state(intent, message)
    method_id = method_id or intent["payment_method"]
    if method_id is None:
        raise unexpected_state(
            intent,
            "You cannot confirm this PaymentIntent because it's missing a payment method. You "
            "can either update the PaymentIntent with a payment method and then confirm it "
            "again, or confirm it again directly with a payment method.",
        )
    automatic = intent["automatic_payment_methods"] or {}
    if automatic.get("enabled") and automatic.get("allow_redirects") != "never" and not return_url:
        raise StripeError(400, REDIRECTS_NEED_RETURN_URL, param="return_url")
    method = payment_methods.usable_for(
        emulator, method_id, intent["customer"], intent="PaymentIntent"
    )
    payment = payments.attempt(
        emulator, intent, method, off_session=off_session, return_url=return_url
    )
    _settle(emulator, payment)
    return payment


def authenticate(emulator: Emulator, intent: StripeObject, *, succeeded: bool) -> Payment:
    """The cardholder completes (or fails) the pending 3-D Secure challenge."""
    payment = payments.authenticate(emulator, intent, succeeded=succeeded)
    _settle(emulator, payment)
    return payment


def checkout_session_of(emulator: Emulator, intent: StripeObject) -> StripeObject | None:
    """The hosted Checkout Session waiting for this intent's challenge, if one is."""
    return emulator.store.get(emulator.store.secret(intent["id"]).get("checkout_session") or "")


def _settle(emulator: Emulator, payment: Payment) -> None:
    invoice = invoices.invoice_of(emulator, payment.intent)
    if invoice is not None:
        subscriptions.settle(emulator, invoice, payment)
        pending_updates.apply_paid(emulator, invoice)
    session = checkout_session_of(emulator, payment.intent)
    if session is not None and session["status"] == "open" and payment.succeeded:
        customer = emulator.store.objects[payment.intent["customer"]]
        checkout.finish(emulator, session, customer=customer, invoice=invoice)
