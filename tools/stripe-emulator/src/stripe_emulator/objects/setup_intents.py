"""SetupIntents: a card collected now for payments later (a trial's pending SetupIntent)."""

from stripe_emulator.ids import new_id, random_token
from stripe_emulator.store import StripeObject


def setup_intent(*, created: int, customer: str | None) -> StripeObject:
    """A SetupIntent waiting for a card, to be used off session (Stripe copies no metadata
    onto the SetupIntents it makes for subscriptions)."""
    intent_id = new_id("seti")
    return {
        "id": intent_id,
        "object": "setup_intent",
        "application": None,
        "automatic_payment_methods": None,
        "cancellation_reason": None,
        "client_secret": f"{intent_id}_secret_{random_token(32)}",
        "created": created,
        "customer": customer,
        "description": None,
        "excluded_payment_method_types": None,
        "flow_directions": None,
        "last_setup_error": None,
        "latest_attempt": None,
        "livemode": False,
        "mandate": None,
        "metadata": {},
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {
                "mandate_options": None,
                "network": None,
                "request_three_d_secure": "automatic",
            }
        },
        "payment_method_types": ["card"],
        "single_use_mandate": None,
        "status": "requires_payment_method",
        "usage": "off_session",
    }
