"""Payment methods (cards): retrieve, attach to a customer, list a customer's."""

from stripe_emulator.api import Call, StripeRouter
from stripe_emulator.operations import payment_methods
from stripe_emulator.store import StripeObject

api = StripeRouter()


@api.get("/v1/payment_methods/{id}")
def retrieve_payment_method(call: Call) -> StripeObject:
    """Retrieve a payment method (a test id such as `pm_card_visa` makes a new one)."""
    return payment_methods.resolve(call.emulator, call.path["id"], param="id")


@api.post("/v1/payment_methods/{id}/attach")
def attach_payment_method(call: Call) -> StripeObject:
    """Attach a payment method to a customer (`payment_method.attached`)."""
    em = call.emulator
    customer = em.store.find("customer", call.params.req("customer"), param="customer")
    method = payment_methods.resolve(em, call.path["id"], param="id")
    return payment_methods.attach(em, method, customer["id"])


@api.get("/v1/payment_methods")
def list_payment_methods(call: Call) -> StripeObject:
    """List a customer's payment methods (`customer`, optional `type`)."""
    customer = call.params.req("customer")
    return _page_of(call, customer, "/v1/payment_methods")


@api.get("/v1/customers/{id}/payment_methods")
def list_customer_payment_methods(call: Call) -> StripeObject:
    """List a customer's payment methods (optional `type`)."""
    customer = call.emulator.store.find("customer", call.path["id"])
    return _page_of(call, customer["id"], f"/v1/customers/{customer['id']}/payment_methods")


def _page_of(call: Call, customer_id: str, url: str) -> StripeObject:
    kind = call.params.text("type")
    items = [
        m
        for m in call.emulator.store.all("payment_method")
        if m["customer"] == customer_id and kind in (None, m["type"])
    ]
    return call.page(items, url)
