"""Checkout sessions: creation rules and what paying on the hosted page does."""

from dataclasses import dataclass
from typing import Any

from stripe_emulator.emulator import Emulator
from stripe_emulator.errors import invalid
from stripe_emulator.objects import billing as build
from stripe_emulator.objects import catalog
from stripe_emulator.operations import discounts, subscriptions
from stripe_emulator.operations.cards import Decline, normalize, outcome_of
from stripe_emulator.operations.payments import Payment, pay
from stripe_emulator.store import StripeObject


@dataclass
class CheckoutResult:
    session: StripeObject
    decline: Decline | None
    payment: Payment | None


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
    """Pay the session with a test card, as a customer would on the hosted page."""
    if session["status"] != "open":
        raise invalid(
            f"This Checkout Session is no longer active (status: {session['status']}).",
            param="session",
        )
    store = emulator.store
    if promotion_code:
        if not session["allow_promotion_codes"]:
            raise invalid("This Checkout Session does not accept promotion codes.")
        promo = discounts.resolve_promotion_code(store, promotion_code, emulator.now())
        apply_discounts(emulator, session, [{"promotion_code": promo["id"]}])
    number = normalize(card_number)
    email = email or session["customer_email"]
    private = store.secret(session["id"])
    decline = outcome_of(number)
    if decline is not None:
        failed = pay(
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
    chosen = [
        (
            entry.get("coupon") or _coupon_of(emulator, entry["promotion_code"]),
            entry.get("promotion_code"),
        )
        for entry in session["discounts"]
    ]
    if session["mode"] == "subscription":
        subscription, invoice = subscriptions.start(
            emulator,
            customer=customer,
            lines=lines_of(emulator, session),
            metadata=dict(private["subscription_metadata"]),
            coupons=chosen,
            card_number=number,
        )
        session.update(subscription=subscription["id"], invoice=invoice["id"])
        payment = None
    elif session["amount_total"] > 0:
        payment = pay(
            emulator,
            amount=session["amount_total"],
            currency=session["currency"],
            customer=customer["id"],
            card_number=number,
            metadata=private["payment_intent_metadata"],
            email=customer["email"],
        )
        session["payment_intent"] = payment.intent["id"]
    else:
        payment = None
    for coupon_id, promotion_code_id in chosen:
        discounts.redeem(store, coupon_id, promotion_code_id)
    session.update(
        status="complete",
        payment_status="paid",
        customer=customer["id"],
        customer_details=build.customer_details(customer["email"], customer["name"]),
    )
    emulator.emit("checkout.session.completed", session)
    return CheckoutResult(session, None, payment)


def _coupon_of(emulator: Emulator, promotion_code_id: str) -> str:
    coupon_id: str = emulator.store.objects[promotion_code_id]["promotion"]["coupon"]
    return coupon_id


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
