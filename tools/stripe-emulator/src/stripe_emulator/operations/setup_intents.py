"""SetupIntents: the pending SetupIntent of a subscription with nothing to pay now (a trial),
and confirming it with a card, which the subscription then bills."""

from stripe_emulator.emulator import Emulator
from stripe_emulator.errors import StripeError
from stripe_emulator.objects import setup_intents as build
from stripe_emulator.operations import payment_methods
from stripe_emulator.operations.cards import outcome_of, requires_authentication
from stripe_emulator.store import StripeObject

CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")


def for_subscription(emulator: Emulator, subscription: StripeObject) -> StripeObject:
    """The SetupIntent that collects a card for a subscription's later invoices
    (`subscription.pending_setup_intent`; `setup_intent.created`)."""
    intent = emulator.store.add(
        build.setup_intent(created=emulator.now(), customer=subscription["customer"]),
        subscription=subscription["id"],
    )
    emulator.emit("setup_intent.created", intent)
    return intent


def unexpected_state(intent: StripeObject, message: str) -> StripeError:
    """Stripe's 400 for a confirmation the SetupIntent's status does not allow."""
    return StripeError(
        400, message, code="setup_intent_unexpected_state", extra={"setup_intent": dict(intent)}
    )


def confirm(emulator: Emulator, intent: StripeObject, *, method_id: str | None) -> StripeObject:
    """Set up a card (given, or set before) for later payments: it succeeds and is attached
    to the customer (and saved on the subscription that asked for it), or it declines (402,
    the SetupIntent back to `requires_payment_method`). Checked first as Stripe does: the
    status, a payment method, the customer the method belongs to."""
    if intent["status"] not in CONFIRMABLE:
        raise unexpected_state(
            intent,
            f"You cannot confirm this SetupIntent because it has a status of {intent['status']}.",
        )
    method_id = method_id or intent["payment_method"]
    if method_id is None:
        raise unexpected_state(
            intent,
            "You cannot confirm this SetupIntent because it's missing a payment method. You can "
            "either update the SetupIntent with a payment method and then confirm it again, or "
            "confirm it again directly with a payment method.",
        )
    method = payment_methods.usable_for(
        emulator, method_id, intent["customer"], intent="SetupIntent"
    )
    number = payment_methods.card_number(emulator, method)
    if requires_authentication(number):
        raise StripeError(
            400,
            "Setting up a card that asks for 3-D Secure is not covered by this emulator (see "
            "its README).",
            param="payment_method",
        )
    decline = outcome_of(number)
    store = emulator.store
    if decline is not None:
        error = decline.body(payment_method=store.snapshot(method))
        intent.update(status="requires_payment_method", payment_method=None, last_setup_error=error)
        emulator.emit("setup_intent.setup_failed", intent)
        raise decline.error(
            setup_intent=store.snapshot(intent), payment_method=error["payment_method"]
        )
    if intent["customer"] is not None:
        payment_methods.attach(emulator, method, intent["customer"])
    intent.update(status="succeeded", payment_method=method["id"], last_setup_error=None)
    emulator.emit("setup_intent.succeeded", intent)
    subscription = store.get(store.secret(intent["id"]).get("subscription") or "")
    if subscription is not None:
        _save_on(emulator, subscription, method["id"])
    return intent


def _save_on(emulator: Emulator, subscription: StripeObject, method_id: str) -> None:
    """A subscription that saves its payment method (`on_subscription`) bills the set-up card
    from now on (`customer.subscription.updated`)."""
    saves = subscription["payment_settings"]["save_default_payment_method"] == "on_subscription"
    ended = subscription["status"] in ("canceled", "incomplete_expired")
    if not saves or ended or subscription["default_payment_method"] == method_id:
        return
    previous = {"default_payment_method": subscription["default_payment_method"]}
    subscription["default_payment_method"] = method_id
    emulator.emit("customer.subscription.updated", subscription, previous)
