"""Stripe's test card numbers and what each one does."""

from dataclasses import dataclass

from stripe_emulator.errors import StripeError


@dataclass(frozen=True)
class Decline:
    code: str
    decline_code: str
    message: str

    def error(self, *, charge_id: str, payment_intent: str | None) -> StripeError:
        extra: dict[str, str] = {"charge": charge_id}
        if payment_intent is not None:
            extra["payment_intent"] = payment_intent
        return StripeError(
            402,
            self.message,
            type="card_error",
            code=self.code,
            decline_code=self.decline_code,
            extra=extra,
        )


GENERIC_DECLINE = Decline("card_declined", "generic_decline", "Your card was declined.")

SUCCEEDING: dict[str, str] = {
    "4242424242424242": "visa",
    "4000056655665556": "visa",
    "5555555555554444": "mastercard",
    "378282246310005": "amex",
}

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


def normalize(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())


def brand(number: str) -> str:
    return SUCCEEDING.get(number, "mastercard" if number.startswith("5") else "visa")


def outcome_of(number: str) -> Decline | None:
    """None when the card pays; otherwise how it declines."""
    if number in SUCCEEDING:
        return None
    return DECLINING.get(number, LIVE_CARD)
