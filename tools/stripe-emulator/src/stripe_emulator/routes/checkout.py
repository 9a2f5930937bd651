"""Checkout sessions."""

from typing import Any

from stripe_emulator.api import Call, StripeRouter
from stripe_emulator.errors import invalid, missing_param
from stripe_emulator.ids import new_id
from stripe_emulator.listing import paginate
from stripe_emulator.objects import billing
from stripe_emulator.operations import checkout, discounts
from stripe_emulator.store import StripeObject
from stripe_emulator.wire import Params

api = StripeRouter()
MODES = ("payment", "subscription")
MIN_LIFETIME, MAX_LIFETIME, DEFAULT_LIFETIME = 30 * 60, 24 * 3600, 24 * 3600


@api.post("/v1/checkout/sessions")
def create_session(call: Call) -> StripeObject:
    """Create a hosted Checkout Session in `payment` or `subscription` mode."""
    p, em = call.params, call.emulator
    store, now = em.store, em.now()
    mode = p.choice("mode", MODES, required=True)
    lines = p.items("line_items")
    if not lines:
        raise missing_param("line_items")
    prices = []
    for index, line in enumerate(lines):
        price = active_price(call, line.req("price"), param=f"line_items[{index}][price]")
        quantity = line.integer("quantity")
        if quantity is None or quantity < 1:
            raise invalid(
                "Quantity is required and must be positive.", param=f"line_items[{index}][quantity]"
            )
        recurring = price["type"] == "recurring"
        if mode == "payment" and recurring:
            raise invalid(
                "You must be in `subscription` mode to use recurring prices. Try using "
                "`mode=subscription` instead.",
                param=f"line_items[{index}][price]",
            )
        prices.append((price, quantity))
    if mode == "subscription" and not any(price["recurring"] for price, _ in prices):
        raise invalid(
            "You must provide at least one recurring price in `subscription` mode when using "
            "prices.",
            param="line_items",
        )
    same_terms([price for price, _ in prices], param="line_items")
    customer, email = p.text("customer"), p.text("customer_email")
    if customer and email:
        raise invalid(
            "You may only specify one of these parameters: customer, customer_email.",
            param="customer_email",
        )
    if customer:
        store.find("customer", customer, param="customer")
    expires_at = p.integer("expires_at") or now + DEFAULT_LIFETIME
    if not now + MIN_LIFETIME <= expires_at <= now + MAX_LIFETIME:
        raise invalid(
            "The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout "
            "Session creation.",
            param="expires_at",
        )
    subtotal = sum(price["unit_amount"] * quantity for price, quantity in prices)
    chosen = requested_discounts(
        call, customer=customer, subtotal=subtotal, currency=prices[0][0]["currency"]
    )
    allow_promotion_codes = p.flag("allow_promotion_codes")
    if chosen and allow_promotion_codes:
        raise invalid(
            "You may only specify one of these parameters: allow_promotion_codes, discounts.",
            param="discounts",
        )
    subscription_data, intent_data = p.sub("subscription_data"), p.sub("payment_intent_data")
    if mode == "subscription" and p.has("payment_intent_data"):
        raise invalid(
            "You can not pass `payment_intent_data` in `subscription` mode.",
            param="payment_intent_data",
        )
    if mode == "payment" and p.has("subscription_data"):
        raise invalid(
            "You can not pass `subscription_data` in `payment` mode.", param="subscription_data"
        )
    invoice_creation = invoice_creation_of(p, mode=mode or "payment")
    session = billing.checkout_session(
        created=now,
        base_url=em.settings.base_url,
        mode=mode or "payment",
        currency=prices[0][0]["currency"],
        amount_subtotal=subtotal,
        amount_discount=0,
        customer=customer,
        customer_email=email,
        client_reference_id=p.text("client_reference_id"),
        metadata=p.metadata(),
        success_url=p.text("success_url"),
        cancel_url=p.text("cancel_url"),
        expires_at=expires_at,
        allow_promotion_codes=allow_promotion_codes,
        discounts=[],
        invoice_creation=invoice_creation,
    )
    store.add(
        session,
        lines=[(price["id"], quantity) for price, quantity in prices],
        item_ids=[new_id("li") for _ in prices],
        subscription_metadata=subscription_data.metadata(),
        payment_intent_metadata=intent_data.metadata(),
        trial=trial_of(subscription_data, now, param="subscription_data"),
    )
    checkout.apply_discounts(em, session, chosen)
    return session


def invoice_creation_of(params: Params, *, mode: str) -> StripeObject | None:
    """`invoice_creation` (`enabled`, `invoice_data[description|footer|metadata]`): a paid
    invoice after a payment-mode session's payment. A payment-mode session shows it disabled
    when not asked for; other modes take none (their subscription invoices anyway)."""
    asked = params.has("invoice_creation")
    if mode != "payment":
        if asked:
            raise invalid(
                "`invoice_creation` can only be used in `payment` mode.", param="invoice_creation"
            )
        return None
    creation = params.sub("invoice_creation")
    enabled = creation.flag("enabled")
    if asked and enabled is None:
        raise missing_param("invoice_creation[enabled]")
    data = creation.sub("invoice_data")
    return billing.invoice_creation(
        enabled=bool(enabled),
        description=data.text("description"),
        footer=data.text("footer"),
        metadata=data.metadata(),
    )


def active_price(call: Call, price_id: str, *, param: str) -> StripeObject:
    """A price that exists and is active."""
    price = call.emulator.store.find("price", price_id, param=param)
    if not price["active"]:
        raise invalid(f"The price specified is inactive: {price['id']}", param=param)
    return price


def same_terms(prices: list[StripeObject], *, param: str) -> None:
    """Prices billed together share a currency and a billing interval."""
    if len({price["currency"] for price in prices}) > 1:
        raise invalid("All prices must use the same currency.", param=param)
    intervals = {
        (price["recurring"]["interval"], price["recurring"]["interval_count"])
        for price in prices
        if price["recurring"]
    }
    if len(intervals) > 1:
        raise invalid("All recurring prices must have the same billing interval.", param=param)


def requested_discounts(
    call: Call,
    *,
    customer: str | None = None,
    subtotal: int | None = None,
    currency: str | None = None,
) -> list[dict[str, Any]]:
    """The `discounts` parameter: at most one valid coupon or promotion code (with the
    purchase's `subtotal`, a promotion code within its restrictions)."""
    store, now = call.emulator.store, call.emulator.now()
    chosen: list[dict[str, Any]] = []
    for index, entry in enumerate(call.params.items("discounts")):
        coupon_id, promo_code = entry.text("coupon"), entry.text("promotion_code")
        if coupon_id:
            coupon = store.find("coupon", coupon_id, param=f"discounts[{index}][coupon]")
            if not coupon["valid"] or not discounts.coupon_is_valid(coupon, now):
                raise invalid(
                    f"This coupon cannot be redeemed: {coupon_id}",
                    param=f"discounts[{index}][coupon]",
                )
            chosen.append({"coupon": coupon_id, "promotion_code": None})
        elif promo_code:
            promo = discounts.resolve_promotion_code(
                store, promo_code, now, customer=customer, subtotal=subtotal, currency=currency
            )
            chosen.append({"coupon": None, "promotion_code": promo["id"]})
    if len(chosen) > 1:
        raise invalid("You may only specify one discount.", param="discounts")
    return chosen


@api.get("/v1/checkout/sessions/{id}")
def retrieve_session(call: Call) -> StripeObject:
    """Retrieve a Checkout Session."""
    return call.emulator.store.find("checkout.session", call.path["id"])


@api.get("/v1/checkout/sessions")
def list_sessions(call: Call) -> StripeObject:
    """List Checkout Sessions by `customer`, `payment_intent`, `subscription` or `status`."""
    p = call.params
    filters = {k: p.text(k) for k in ("customer", "payment_intent", "subscription", "status")}
    items = [
        s
        for s in call.emulator.store.all("checkout.session")
        if all(value is None or s[key] == value for key, value in filters.items())
    ]
    return call.page(items, "/v1/checkout/sessions")


@api.post("/v1/checkout/sessions/{id}/expire")
def expire_session(call: Call) -> StripeObject:
    """Expire an open Checkout Session."""
    session = call.emulator.store.find("checkout.session", call.path["id"])
    return checkout.expire(call.emulator, session)


@api.get("/v1/checkout/sessions/{id}/line_items")
def list_session_line_items(call: Call) -> StripeObject:
    """List a Checkout Session's line items."""
    session = call.emulator.store.find("checkout.session", call.path["id"])
    items = checkout.session_items(call.emulator, session)
    return paginate(items, call.params, f"/v1/checkout/sessions/{session['id']}/line_items")


TRIAL_END_BEHAVIORS = ("cancel", "create_invoice", "pause")
MAX_TRIAL_DAYS = 730
TRIAL_END_NOTICE = 48 * 3600
"""Checkout's `subscription_data.trial_end` must lie at least this far ahead (Stripe's rule)."""


def trial_of(params: Params, now: int, *, param: str | None = None) -> dict[str, Any] | None:
    """`trial_period_days` (1 to 730) or `trial_end` (a time; on a Checkout Session at least
    48 hours ahead), and `trial_settings[end_behavior][missing_payment_method]`, of a
    subscription to be created: `{"seconds" | "end", "behavior"}` (`subscriptions.trial_end`)."""
    days, end = params.integer("trial_period_days"), params.integer("trial_end")

    def name(field: str) -> str:
        return f"{param}[{field}]" if param else field

    if days is None and end is None:
        return None
    if days is not None and end is not None:
        raise invalid(
            "You may only specify one of these parameters: trial_end, trial_period_days.",
            param=name("trial_end"),
        )
    if days is not None and not 1 <= days <= MAX_TRIAL_DAYS:
        raise invalid(
            f"trial_period_days must be between 1 and {MAX_TRIAL_DAYS}.",
            param=name("trial_period_days"),
        )
    soonest = now + (TRIAL_END_NOTICE if param else 0)
    if end is not None and not soonest < end <= now + MAX_TRIAL_DAYS * 86400:
        raise invalid(
            "trial_end must be in the future"
            + (" by at least 48 hours" if param else "")
            + f" and at most {MAX_TRIAL_DAYS} days away.",
            param=name("trial_end"),
        )
    behavior = (
        params.sub("trial_settings")
        .sub("end_behavior")
        .choice("missing_payment_method", TRIAL_END_BEHAVIORS)
    )
    seconds = days * 86400 if days is not None else None
    return {"seconds": seconds, "end": end, "behavior": behavior or "create_invoice"}
