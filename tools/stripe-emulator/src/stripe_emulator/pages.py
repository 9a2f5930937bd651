"""The hosted Checkout page, the test 3-D Secure challenge page and a minimal customer portal
page, as plain HTML (invoice pages: `invoice_pages`)."""

import hmac
from html import escape
from typing import Annotated, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from stripe_emulator.emulator import Emulator
from stripe_emulator.errors import StripeError
from stripe_emulator.operations import checkout, intents, payments
from stripe_emulator.store import StripeObject

router = APIRouter(include_in_schema=False)

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;color:#222}"
    "table{width:100%;border-collapse:collapse}td{padding:.3rem 0}"
    "td.amount{text-align:right}input{width:100%;padding:.4rem;margin:.2rem 0 .8rem}"
    "button{padding:.6rem 1.2rem}.error{color:#b00020}.total{font-weight:bold}"
)


def money(amount: int, currency: str) -> str:
    """An amount in minor units as the pages show it (`20.00 NZD`)."""
    return f"{amount / 100:,.2f} {currency.upper()}"


def html_page(title: str, body: str, status: int = 200) -> HTMLResponse:
    """A small HTML page in the emulator's style."""
    html = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{STYLE}</style></head><body>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status)


def _checkout_page(emulator: Emulator, session: StripeObject, error: str | None) -> HTMLResponse:
    currency = session["currency"]
    rows = "".join(
        f"<tr><td>{escape(item['description'])} &times; {item['quantity']}</td>"
        f"<td class='amount'>{money(item['amount_subtotal'], currency)}</td></tr>"
        for item in checkout.session_items(emulator, session)
    )
    discount = session["total_details"]["amount_discount"]
    if discount:
        rows += (
            f"<tr><td>Discount</td><td class='amount'>&minus;{money(discount, currency)}</td></tr>"
        )
    rows += (
        f"<tr class='total'><td>Total</td>"
        f"<td class='amount' id='total'>{money(session['amount_total'], currency)}</td></tr>"
    )
    promo = (
        "<label>Promotion code <input name='promotion_code'></label>"
        if session["allow_promotion_codes"]
        else ""
    )
    email = escape(session["customer_email"] or "")
    notice = f"<p class='error' role='alert'>{escape(error)}</p>" if error else ""
    cancel = (
        f"<p><a href='{escape(session['cancel_url'])}'>Cancel</a></p>"
        if session["cancel_url"]
        else ""
    )
    body = (
        f"<h1>Pay</h1><p>Test mode · {escape(session['mode'])}</p><table>{rows}</table>"
        f"{notice}<form method='post'>"
        f"<label>Email <input name='email' type='email' value='{email}'></label>"
        "<label>Card number <input name='card_number' autocomplete='cc-number' "
        "placeholder='4242 4242 4242 4242' required></label>"
        f"{promo}<button type='submit'>Pay</button></form>{cancel}"
    )
    return html_page("Checkout", body, 402 if error else 200)


def _session(request: Request, session_id: str) -> tuple[Emulator, StripeObject | None]:
    emulator: Emulator = request.app.state.emulator
    found = emulator.store.get(session_id)
    if found is None or found.get("object") != "checkout.session":
        return emulator, None
    return emulator, found


@router.get("/checkout/pay/{session_id}")
async def checkout_page(request: Request, session_id: str) -> Response:
    """The hosted payment page of a Checkout Session."""
    emulator, session = _session(request, session_id)
    with emulator.store.lock:
        if session is None:
            return html_page("Not found", "<h1>Checkout Session not found</h1>", 404)
        if session["status"] != "open":
            return html_page("Closed", f"<h1>This session is {escape(session['status'])}</h1>", 410)
        return _checkout_page(emulator, session, None)


@router.post("/checkout/pay/{session_id}")
async def pay(
    request: Request,
    session_id: str,
    card_number: Annotated[str, Form()],
    email: Annotated[str | None, Form()] = None,
    promotion_code: Annotated[str | None, Form()] = None,
) -> Response:
    """Pay a Checkout Session: 303 to `success_url`, or the page again with the decline."""
    emulator, session = _session(request, session_id)
    with emulator.store.lock:
        if session is None:
            return html_page("Not found", "<h1>Checkout Session not found</h1>", 404)
        try:
            result = checkout.complete(
                emulator,
                session,
                card_number=card_number,
                email=email or None,
                promotion_code=promotion_code or None,
            )
        except StripeError as exc:
            return _checkout_page(emulator, session, exc.message)
        if result.decline is not None:
            return _checkout_page(emulator, session, result.decline.message)
        if result.authentication is not None:
            return RedirectResponse(payments.challenge_url(emulator, result.authentication), 303)
        return _paid(session)


def _paid(session: StripeObject) -> Response:
    """Where a paid session sends the customer: its `success_url`."""
    url = session["success_url"]
    if url is None:
        return html_page("Paid", "<h1>Payment complete</h1>")
    return RedirectResponse(url.replace("{CHECKOUT_SESSION_ID}", quote(session["id"])), 303)


def _intent(request: Request, intent_id: str, client_secret: str) -> StripeObject | None:
    """The payment intent the challenge page is for, if the client secret matches."""
    emulator: Emulator = request.app.state.emulator
    found = emulator.store.get(intent_id)
    if found is None or found.get("object") != "payment_intent":
        return None
    return found if hmac.compare_digest(found["client_secret"], client_secret) else None


@router.get("/3d_secure/{intent_id}")
async def challenge_page(request: Request, intent_id: str, client_secret: str = "") -> Response:
    """A test 3-D Secure challenge: complete or fail the authentication."""
    emulator: Emulator = request.app.state.emulator
    with emulator.store.lock:
        intent = _intent(request, intent_id, client_secret)
        if intent is None:
            return html_page("Not found", "<h1>Authentication not found</h1>", 404)
        if intent["status"] != "requires_action":
            return html_page("Closed", "<h1>This authentication is no longer pending</h1>", 410)
        amount = money(intent["amount"], intent["currency"])
    secret = escape(client_secret)
    buttons = "".join(
        f"<button type='submit' name='outcome' value='{value}'>{label}</button> "
        for value, label in (("succeed", "Complete"), ("fail", "Fail"))
    )
    body = (
        "<h1>3D Secure test page</h1><p>Test mode · the issuer asks the cardholder to "
        f"authenticate a payment of <strong>{amount}</strong>.</p><form method='post'>"
        f"<input type='hidden' name='client_secret' value='{secret}'>{buttons}</form>"
    )
    return html_page("Authenticate", body)


@router.post("/3d_secure/{intent_id}")
async def authenticate(
    request: Request,
    intent_id: str,
    client_secret: Annotated[str, Form()],
    outcome: Annotated[Literal["succeed", "fail"], Form()],
) -> Response:
    """Complete or fail the challenge; back to the Checkout Session, the `return_url` (with
    `redirect_status`), or a page saying how it went."""
    emulator: Emulator = request.app.state.emulator
    with emulator.store.lock:
        intent = _intent(request, intent_id, client_secret)
        if intent is None:
            return html_page("Not found", "<h1>Authentication not found</h1>", 404)
        try:
            payment = intents.authenticate(emulator, intent, succeeded=outcome == "succeed")
        except StripeError as exc:
            return html_page("Closed", f"<h1>{escape(exc.message)}</h1>", 410)
        session = intents.checkout_session_of(emulator, intent)
        if session is not None:
            if payment.decline is not None:
                return _checkout_page(emulator, session, payment.decline.message)
            return _paid(session)
        return_url = emulator.store.secret(intent_id).get("return_url")
    status = "succeeded" if payment.decline is None else "failed"
    if return_url:
        query = urlencode(
            {
                "payment_intent": intent_id,
                "payment_intent_client_secret": client_secret,
                "redirect_status": status,
            }
        )
        separator = "&" if "?" in return_url else "?"
        return RedirectResponse(f"{return_url}{separator}{query}", 303)
    return html_page("Authentication", f"<h1>Authentication {status}</h1>")


@router.get("/billing_portal/session/{session_id}")
async def portal_page(request: Request, session_id: str) -> Response:
    """A read-only customer portal: the customer's subscriptions and a link back."""
    emulator: Emulator = request.app.state.emulator
    with emulator.store.lock:
        portal = emulator.store.get(session_id)
        if portal is None or portal.get("object") != "billing_portal.session":
            return html_page("Not found", "<h1>Portal session not found</h1>", 404)
        rows = "".join(
            f"<tr><td>{escape(s['id'])}</td><td>{escape(s['status'])}</td>"
            f"<td>{'ends at period end' if s['cancel_at_period_end'] else ''}</td></tr>"
            for s in emulator.store.all("subscription")
            if s["customer"] == portal["customer"]
        )
        back = portal["return_url"]
    link = f"<p><a href='{escape(back)}'>Return</a></p>" if back else ""
    return html_page("Billing", f"<h1>Your subscriptions</h1><table>{rows}</table>{link}")
