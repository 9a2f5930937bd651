"""SetupIntents (a subscription's pending one): retrieve, confirm."""

from stripe_emulator.api import Call, StripeRouter
from stripe_emulator.operations import setup_intents
from stripe_emulator.store import StripeObject

api = StripeRouter()


@api.get("/v1/setup_intents/{id}")
def retrieve_setup_intent(call: Call) -> StripeObject:
    """Retrieve a SetupIntent."""
    return call.emulator.store.find("setup_intent", call.path["id"])


@api.post("/v1/setup_intents/{id}/confirm")
def confirm_setup_intent(call: Call) -> StripeObject:
    """Confirm with a payment method (a test one such as `pm_card_visa`, or a `pm_` id): the
    card is set up for later payments, or declines (402 `card_error`)."""
    intent = call.emulator.store.find("setup_intent", call.path["id"])
    return setup_intents.confirm(
        call.emulator, intent, method_id=call.params.text("payment_method")
    )
