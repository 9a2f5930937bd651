"""Routing for Stripe's `/v1` API: parameters in, expanded JSON out, one lock per request."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from stripe_emulator.emulator import Emulator
from stripe_emulator.listing import Includes, expand, list_object, paginate
from stripe_emulator.operations import invoices
from stripe_emulator.operations.checkout import session_items
from stripe_emulator.store import StripeObject
from stripe_emulator.wire import Params, parse_pairs


@dataclass
class Call:
    """One API request as a handler sees it."""

    emulator: Emulator
    params: Params
    path: dict[str, str]

    def page(self, items: list[StripeObject], url: str) -> StripeObject:
        return paginate(items, self.params, url)

    def change(
        self, obj: StripeObject, changes: dict[str, Any], event_type: str | None
    ) -> StripeObject:
        """Apply `changes`; if any value differs, emit `event_type` with the previous values."""
        previous = {
            key: _previous(obj[key], value) for key, value in changes.items() if obj[key] != value
        }
        if previous:
            obj.update(changes)
            if "updated" in obj:
                obj["updated"] = self.emulator.now()
            if event_type is not None:
                self.emulator.emit(event_type, obj, previous)
        return obj


Handler = Callable[[Call], StripeObject]


def _previous(old: Any, new: Any) -> Any:
    """A changed value as `previous_attributes` shows it: of a hash, only the keys that changed
    (null for one added)."""
    if isinstance(old, dict) and isinstance(new, dict):
        keys = sorted(old.keys() | new.keys())
        return {key: old.get(key) for key in keys if old.get(key) != new.get(key)}
    return old


async def read_params(request: Request) -> dict[str, Any]:
    pairs = parse_qsl(request.url.query, keep_blank_values=True)
    if request.method == "POST":
        body = (await request.body()).decode()
        pairs += parse_qsl(body, keep_blank_values=True)
    return parse_pairs(pairs)


def includes_for(emulator: Emulator) -> Includes:
    """Fields Stripe returns only on request (`expand[]=line_items`, `expand[]=payments`,
    `expand[]=confirmation_secret`)."""
    store = emulator.store

    def line_items(session: StripeObject) -> StripeObject:
        url = f"/v1/checkout/sessions/{session['id']}/line_items"
        return list_object(url, session_items(emulator, session))

    def payments(invoice: StripeObject) -> StripeObject:
        found = [p for p in store.all("invoice_payment") if p["invoice"] == invoice["id"]]
        return list_object(f"/v1/invoice_payments?invoice={invoice['id']}", found)

    def confirmation_secret(invoice: StripeObject) -> StripeObject | None:
        intent = invoices.intent_of(emulator, invoice)
        if intent is None:
            return None
        return {"client_secret": intent["client_secret"], "type": "payment_intent"}

    return {
        ("checkout.session", "line_items"): line_items,
        ("invoice", "payments"): payments,
        ("invoice", "confirmation_secret"): confirmation_secret,
    }


class StripeRouter:
    """Collects handlers `(Call) -> object` and mounts them as FastAPI routes."""

    def __init__(self) -> None:
        self.router = APIRouter()

    def route(self, method: str, path: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            async def endpoint(request: Request) -> JSONResponse:
                emulator: Emulator = request.app.state.emulator
                params = Params(await read_params(request))
                with emulator.store.lock:
                    result = handler(Call(emulator, params, dict(request.path_params)))
                    body = expand(
                        result, params.strings("expand"), emulator.store, includes_for(emulator)
                    )
                return JSONResponse(body)

            self.router.add_api_route(
                path,
                endpoint,
                methods=[method],
                name=handler.__name__,
                description=handler.__doc__ or "",
                include_in_schema=False,
            )
            return handler

        return register

    def get(self, path: str) -> Callable[[Handler], Handler]:
        return self.route("GET", path)

    def post(self, path: str) -> Callable[[Handler], Handler]:
        return self.route("POST", path)

    def delete(self, path: str) -> Callable[[Handler], Handler]:
        return self.route("DELETE", path)
