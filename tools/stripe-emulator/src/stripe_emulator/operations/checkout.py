"""Checkout sessions: creation rules and what paying on the hosted page does."""

from dataclasses import dataclass
from typing import Any

from stripe_emulator.emulator import Emulator
from stripe_emulator.errors import invalid
from stripe_emulator.objects import billing as build
from stripe_emulator.objects import catalog
from stripe_emulator.operations import (
    discounts,
    invoices,
    payment_methods,
    payments,
    subscriptions,
)
from stripe_emulator.operations.cards import Decline, normalize, outcome_of
from stripe_emulator.operations.payments import Payment
from stripe_emulator.store import StripeObject


@dataclass
class CheckoutResult:
    session: StripeObject
    decline: Decline | None
    payment: Payment | None
    authentication: StripeObject | None = None
    """The payment intent waiting for the cardholder's 3-D Secure challenge, if one is."""


def lines_of(emulator: Emulator, session: StripeObject) -> list[tuple[StripeObject, int]]:
    return [
        (emulator.store.objects[price_id], quantity)
        for price_id, quantity in emulator.store.secret(session["id"])["lines"]
    ]


def session_items(emulator: Emulator, session: StripeObject) -> list[StripeObject]:
    """The session's line items (`item` objects), with its discount spread over them."""
    lines = lines_of(emulator, session)
    shares = discounts.split(
        session["total_details"]["amount_discount"],
        [price["unit_amount"] * quantity for price, quantity in lines],
    )
    ids = emulator.store.secret(session["id"])["item_ids"]
    return [
        build.session_item(
            item_id=item_id,
            price=price,
            product_name=emulator.store.objects[price["product"]]["name"],
            quantity=quantity,
            amount_discount=share,
        )
        for item_id, (price, quantity), share in zip(ids, lines, shares, strict=True)
    ]


def apply_discounts(
    emulator: Emulator, session: StripeObject, chosen: list[dict[str, Any]]
) -> None:
    """Set `discounts` and the totals from `[{"coupon": ...} | {"promotion_code": ...}]`."""
    subtotal = session["amount_subtotal"]
    off = 0
    for entry in chosen:
        coupon_id = entry.get("coupon")
        if coupon_id is None:
            promo = emulator.store.objects[entry["promotion_code"]]
            coupon_id = promo["promotion"]["coupon"]
        coupon = emulator.store.objects[coupon_id]
        off += discounts.amount_off(coupon, subtotal - off, session["currency"])
    session["discounts"] = chosen
    session["total_details"]["amount_discount"] = off
    session["amount_total"] = subtotal - off


def complete(
    emulator: Emulator,
    session: StripeObject,
    *,
    card_number: str,
    email: str | None = None,
    name: str | None = None,
    promotion_code: str | None = None,
) -> CheckoutResult:
    """Pay the session with a test card, as a customer would on the hosted page. A card that
    asks for 3-D Secure leaves the session open until the challenge is completed."""
    if session["status"] != "open":
        raise invalid(
            f"This Checkout Session is no longer active (status: {session['status']}).",
            param="session",
        )
    store = emulator.store
    if promotion_code:
        if not session["allow_promotion_codes"]:
            raise invalid("This Checkout Session does not accept promotion codes.")
        promo = discounts.resolve_promotion_code(
            store,
            promotion_code,
            emulator.now(),
            customer=session["customer"],
            subtotal=session["amount_subtotal"],
            currency=session["currency"],
        )
        apply_discounts(emulator, session, [{"promotion_code": promo["id"]}])
    number = normalize(card_number)
    email = email or session["customer_email"]
    private = store.secret(session["id"])
    decline = outcome_of(number)
    if decline is not None:
        failed = payments.pay(
            emulator,
            amount=session["amount_total"],
            currency=session["currency"],
            customer=session["customer"],
            card_number=number,
            metadata=private["payment_intent_metadata"],
            email=email,
        )
        return CheckoutResult(session, decline, failed)

    customer = _customer_for(emulator, session, email, name)
    payment = invoice = intent = None
    if session["mode"] == "subscription":
        method = payment_methods.for_card(emulator, number, email=customer["email"])
        payment_methods.attach(emulator, method, customer["id"])  # the subscription's default
        trial = private.get("trial")
        _, invoice = subscriptions.start(
            emulator,
            customer=customer,
            lines=lines_of(emulator, session),
            metadata=dict(private["subscription_metadata"]),
            coupons=discounts.pairs(emulator.store, session["discounts"]),
            method=method,
            default_payment_method=method["id"],
            trial_end=subscriptions.trial_end(trial, emulator.now()) if trial else None,
            missing_payment_method=trial["behavior"] if trial else "create_invoice",
        )
        intent = invoices.intent_of(emulator, invoice)
    elif session["amount_total"] > 0:
        payment = payments.pay(
            emulator,
            amount=session["amount_total"],
            currency=session["currency"],
            customer=customer["id"],
            card_number=number,
            metadata=private["payment_intent_metadata"],
            email=customer["email"],
        )
        intent = payment.intent
        session["payment_intent"] = intent["id"]
    if intent is not None and intent["status"] == "requires_action":
        store.secret(intent["id"])["checkout_session"] = session["id"]
        return CheckoutResult(session, None, payment, authentication=intent)
    finish(emulator, session, customer=customer, invoice=invoice)
    return CheckoutResult(session, None, payment)


def finish(
    emulator: Emulator,
    session: StripeObject,
    *,
    customer: StripeObject,
    invoice: StripeObject | None,
) -> StripeObject:
    """Complete the paid session (in subscription mode, with its subscription's first
    `invoice`): in payment mode with `invoice_creation`, its paid invoice; discounts redeemed,
    `checkout.session.completed`."""
    status = "paid"
    subscription_id = invoices.subscription_of(invoice) if invoice is not None else None
    if invoice is not None and subscription_id is not None:
        session.update(subscription=subscription_id, invoice=invoice["id"])
        if emulator.store.objects[subscription_id]["status"] == "trialing":
            status = "no_payment_required"  # Stripe's word for a payment delayed by a trial
    creation = session["invoice_creation"]
    if creation is not None and creation["enabled"]:
        paid = invoices.issue_paid(
            emulator,
            customer=customer,
            lines=session_items(emulator, session),
            coupons=discounts.pairs(emulator.store, session["discounts"]),
            checkout_session=session["id"],
            payment_intent=session["payment_intent"],
            invoice_data=creation["invoice_data"],
        )
        session["invoice"] = paid["id"]
    for coupon_id, promotion_code_id in discounts.pairs(emulator.store, session["discounts"]):
        discounts.redeem(emulator.store, coupon_id, promotion_code_id)
    session.update(
        status="complete",
        payment_status=status,
        customer=customer["id"],
        customer_details=build.customer_details(customer["email"], customer["name"]),
    )
    emulator.emit("checkout.session.completed", session)
    return session


def _customer_for(
    emulator: Emulator, session: StripeObject, email: str | None, name: str | None
) -> StripeObject:
    if session["customer"]:
        return emulator.store.objects[session["customer"]]
    customer = emulator.store.add(
        catalog.customer(
            created=emulator.now(), email=email, name=name, description=None, metadata={}
        )
    )
    emulator.emit("customer.created", customer)
    return customer


def expire(emulator: Emulator, session: StripeObject) -> StripeObject:
    if session["status"] != "open":
        raise invalid(
            'Only Checkout Sessions with a status in ["open"] can be expired.', param="session"
        )
    session.update(status="expired", url=None)
    emulator.emit("checkout.session.expired", session)
    return session


def expire_due(emulator: Emulator) -> None:
    """Expire open sessions whose `expires_at` has passed."""
    now = emulator.now()
    for session in emulator.store.all("checkout.session"):
        if session["status"] == "open" and session["expires_at"] <= now:
            expire(emulator, session)
