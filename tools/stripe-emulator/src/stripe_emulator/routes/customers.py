"""Customers."""

from stripe_emulator.api import Call, StripeRouter
from stripe_emulator.objects import catalog
from stripe_emulator.operations import payment_methods
from stripe_emulator.store import StripeObject

api = StripeRouter()


@api.post("/v1/customers")
def create_customer(call: Call) -> StripeObject:
    """Create a customer."""
    p, em = call.params, call.emulator
    customer = em.store.add(
        catalog.customer(
            created=em.now(),
            email=p.text("email"),
            name=p.text("name"),
            description=p.text("description"),
            metadata=p.metadata(),
        )
    )
    em.emit("customer.created", customer)
    return customer


@api.get("/v1/customers/{id}")
def retrieve_customer(call: Call) -> StripeObject:
    """Retrieve a customer."""
    return call.emulator.store.find("customer", call.path["id"])


@api.post("/v1/customers/{id}")
def update_customer(call: Call) -> StripeObject:
    """Update a customer's email, name, description, metadata or
    `invoice_settings[default_payment_method]` (one attached to the customer)."""
    p, em = call.params, call.emulator
    customer = em.store.find("customer", call.path["id"])
    changes: dict[str, object] = {
        key: p.text(key) for key in ("email", "name", "description") if p.has(key)
    }
    changes["metadata"] = p.metadata(customer["metadata"])
    settings = p.sub("invoice_settings")
    if settings.has("default_payment_method"):
        method_id = settings.text("default_payment_method")
        if method_id is not None:
            param = "invoice_settings[default_payment_method]"
            payment_methods.attached_to(em, customer["id"], method_id, param=param)
        changes["invoice_settings"] = {
            **customer["invoice_settings"],
            "default_payment_method": method_id,
        }
    return call.change(customer, changes, "customer.updated")


@api.delete("/v1/customers/{id}")
def delete_customer(call: Call) -> StripeObject:
    """Delete a customer."""
    em = call.emulator
    customer = em.store.find("customer", call.path["id"])
    em.store.remove(customer["id"])
    em.emit("customer.deleted", customer)
    return {"id": customer["id"], "object": "customer", "deleted": True}


@api.get("/v1/customers")
def list_customers(call: Call) -> StripeObject:
    """List customers, optionally by `email`."""
    email = call.params.text("email")
    items = [c for c in call.emulator.store.all("customer") if email is None or c["email"] == email]
    return call.page(items, "/v1/customers")
