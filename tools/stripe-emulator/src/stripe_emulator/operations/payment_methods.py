"""Card payment methods: made from test cards, attached to customers, set as defaults."""

from stripe_emulator.emulator import Emulator
from stripe_emulator.errors import invalid
from stripe_emulator.objects import payments as build
from stripe_emulator.operations.cards import TEST_PAYMENT_METHODS, brand
from stripe_emulator.store import StripeObject


def for_card(emulator: Emulator, number: str, *, email: str | None = None) -> StripeObject:
    """A new PaymentMethod of a card number (what Stripe.js or Checkout makes of a card form)."""
    method = build.payment_method(
        created=emulator.now(), number=number, brand=brand(number), email=email, customer=None
    )
    return emulator.store.add(method, card_number=number)


def resolve(emulator: Emulator, method_id: str, *, param: str = "payment_method") -> StripeObject:
    """A stored PaymentMethod, or a new one for a test id such as `pm_card_visa`."""
    number = TEST_PAYMENT_METHODS.get(method_id)
    if number is not None:
        return for_card(emulator, number)
    return emulator.store.find("payment_method", method_id, param=param)


def usable_for(
    emulator: Emulator, method_id: str, customer_id: str | None, *, intent: str
) -> StripeObject:
    """The PaymentMethod an `intent` ("PaymentIntent", "SetupIntent") of `customer_id` is
    confirmed with (`resolve`); one attached to another customer is Stripe's 400."""
    method = resolve(emulator, method_id)
    if method["customer"] is not None and method["customer"] != customer_id:
        raise invalid(
            f"The provided PaymentMethod {method['id']} is attached to the customer "
            f"{method['customer']}; it can only be used with a {intent} of that customer.",
            param="payment_method",
        )
    return method


def card_number(emulator: Emulator, method: StripeObject) -> str:
    number: str = emulator.store.secret(method["id"])["card_number"]
    return number


def attach(emulator: Emulator, method: StripeObject, customer_id: str) -> StripeObject:
    """Attach to a customer (`payment_method.attached`); attaching it again is a no-op."""
    if method["customer"] == customer_id:
        return method
    if method["customer"] is not None:
        raise invalid(
            "The payment method you provided has already been attached to a customer.",
            param="payment_method",
        )
    method["customer"] = customer_id
    emulator.emit("payment_method.attached", method)
    return method


def attached_to(
    emulator: Emulator, customer_id: str, method_id: str, *, param: str
) -> StripeObject:
    """A PaymentMethod that must belong to this customer (for a default payment method)."""
    method = emulator.store.get(method_id)
    if (
        method is None
        or method.get("object") != "payment_method"
        or method["customer"] != customer_id
    ):
        raise invalid(
            f"The customer does not have a payment method with the ID {method_id}. The payment "
            "method must be attached to the customer.",
            param=param,
        )
    return method
