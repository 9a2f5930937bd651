"""Stripe's test card numbers and test payment methods, and what each one does."""

from dataclasses import dataclass
from typing import Any

from stripe_emulator.errors import StripeError


@dataclass(frozen=True)
class Decline:
    """Why a payment failed: a card decline (`card_error`), or failed authentication."""

    code: str
    decline_code: str | None
    message: str
    type: str = "card_error"

    @property
    def doc_url(self) -> str:
        return f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"

    def body(self, **extra: Any) -> dict[str, Any]:
        """The error object Stripe puts in `last_payment_error` (plus `extra`)."""
        error: dict[str, Any] = self.error(**extra).body()["error"]
        return error

    def error(self, **extra: Any) -> StripeError:
        """The 402 answer to the request that attempted the payment; `extra` holds `charge`,
        `payment_intent` and `payment_method`, as Stripe's error does."""
        return StripeError(
            402,
            self.message,
            type=self.type,
            code=self.code,
            decline_code=self.decline_code,
            extra={"doc_url": self.doc_url, **{k: v for k, v in extra.items() if v is not None}},
        )


GENERIC_DECLINE = Decline("card_declined", "generic_decline", "Your card was declined.")

SUCCEEDING: dict[str, str] = {
    "4242424242424242": "visa",
    "4000056655665556": "visa",
    "5555555555554444": "mastercard",
    "378282246310005": "amex",
}

AUTHENTICATING: dict[str, str] = {
    "4000002760003184": "visa",  # authentication required on all transactions
    "4000000000003220": "visa",  # 3-D Secure 2 required
    "4000000000003063": "visa",  # 3-D Secure required
}
"""Cards that pay once the cardholder completes a 3-D Secure challenge."""

DECLINING: dict[str, Decline] = {
    "4000000000000002": GENERIC_DECLINE,
    "4000000000009995": Decline(
        "card_declined", "insufficient_funds", "Your card has insufficient funds."
    ),
    "4000000000009987": Decline("card_declined", "lost_card", "Your card was declined."),
    "4000000000009979": Decline("card_declined", "stolen_card", "Your card was declined."),
    "4000000000000069": Decline("expired_card", "expired_card", "Your card has expired."),
    "4000000000000127": Decline(
        "incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect."
    ),
}

LIVE_CARD = Decline(
    "card_declined",
    "test_mode_live_card",
    "Your card was declined. Your request was in test mode, but used a non test card.",
)

AUTHENTICATION_REQUIRED = Decline(
    "authentication_required",
    "authentication_required",
    "Your card was declined. This transaction requires authentication.",
)
"""An off-session payment with a card that asks for 3-D Secure."""

AUTHENTICATION_FAILED = Decline(
    "payment_intent_authentication_failure",
    None,
    "We are unable to authenticate your payment method. Please choose a different payment "
    "method and try again.",
    type="invalid_request_error",
)

TEST_PAYMENT_METHODS: dict[str, str] = {
    "pm_card_visa": "4242424242424242",
    "pm_card_visa_debit": "4000056655665556",
    "pm_card_mastercard": "5555555555554444",
    "pm_card_amex": "378282246310005",
    "pm_card_chargeDeclined": "4000000000000002",
    "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_chargeDeclinedLostCard": "4000000000009987",
    "pm_card_chargeDeclinedStolenCard": "4000000000009979",
    "pm_card_chargeDeclinedExpiredCard": "4000000000000069",
    "pm_card_chargeDeclinedIncorrectCvc": "4000000000000127",
    "pm_card_authenticationRequired": "4000002760003184",
    "pm_card_threeDSecure2Required": "4000000000003220",
    "pm_card_threeDSecureRequired": "4000000000003063",
}
"""Stripe's test payment method ids; each use makes a new PaymentMethod of that card."""


def normalize(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())


def brand(number: str) -> str:
    known = SUCCEEDING.get(number) or AUTHENTICATING.get(number)
    return known or ("mastercard" if number.startswith("5") else "visa")


def outcome_of(number: str) -> Decline | None:
    """None when the card pays (after authentication, for those that ask for it); otherwise
    how it declines."""
    if number in SUCCEEDING or number in AUTHENTICATING:
        return None
    return DECLINING.get(number, LIVE_CARD)


def requires_authentication(number: str) -> bool:
    return number in AUTHENTICATING
