"""Products, prices, coupons and promotion codes."""

from stripe_emulator.api import Call, StripeRouter
from stripe_emulator.errors import invalid
from stripe_emulator.objects import catalog
from stripe_emulator.operations import discounts
from stripe_emulator.store import StripeObject
from stripe_emulator.wire import Params

api = StripeRouter()
INTERVALS = ("day", "week", "month", "year")
DURATIONS = ("forever", "once", "repeating")


@api.post("/v1/products")
def create_product(call: Call) -> StripeObject:
    """Create a product."""
    p, em = call.params, call.emulator
    product = _new_product(call, p)
    em.emit("product.created", product)
    return product


def _new_product(call: Call, p: Params) -> StripeObject:
    em = call.emulator
    product_id = p.text("id")
    if product_id is not None and em.store.get(product_id) is not None:
        raise invalid(
            f"Product already exists: {product_id}", param="id", code="resource_already_exists"
        )
    active = p.flag("active")
    return em.store.add(
        catalog.product(
            product_id=product_id,
            created=em.now(),
            name=p.req("name"),
            active=True if active is None else active,
            description=p.text("description"),
            metadata=p.metadata(),
        )
    )


@api.get("/v1/products/{id}")
def retrieve_product(call: Call) -> StripeObject:
    """Retrieve a product."""
    return call.emulator.store.find("product", call.path["id"])


@api.post("/v1/products/{id}")
def update_product(call: Call) -> StripeObject:
    """Update a product's name, description, active flag or metadata."""
    p, em = call.params, call.emulator
    product = em.store.find("product", call.path["id"])
    changes: dict[str, object] = {k: p.text(k) for k in ("name", "description") if p.has(k)}
    if p.has("active"):
        changes["active"] = p.flag("active")
    changes["metadata"] = p.metadata(product["metadata"])
    return call.change(product, changes, "product.updated")


@api.get("/v1/products")
def list_products(call: Call) -> StripeObject:
    """List products, optionally by `active`."""
    active = call.params.flag("active")
    items = [
        x for x in call.emulator.store.all("product") if active is None or x["active"] == active
    ]
    return call.page(items, "/v1/products")


@api.post("/v1/prices")
def create_price(call: Call) -> StripeObject:
    """Create a price for a product (or for `product_data`)."""
    p, em = call.params, call.emulator
    if p.has("product_data"):
        product = _new_product(call, p.sub("product_data"))
        em.emit("product.created", product)
    else:
        product = em.store.find("product", p.req("product"), param="product")
    unit_amount = p.integer("unit_amount", required=True)
    assert unit_amount is not None
    if unit_amount < 0:
        raise invalid("Invalid non-negative integer", param="unit_amount")
    recurring = None
    if p.has("recurring"):
        rec = p.sub("recurring")
        interval = rec.choice("interval", INTERVALS, required=True)
        assert interval is not None
        recurring = catalog.recurring(interval, rec.integer("interval_count") or 1)
    active = p.flag("active")
    price = em.store.add(
        catalog.price(
            created=em.now(),
            product=product["id"],
            currency=p.req("currency").lower(),
            unit_amount=unit_amount,
            active=True if active is None else active,
            recurring=recurring,
            nickname=p.text("nickname"),
            lookup_key=p.text("lookup_key"),
            metadata=p.metadata(),
        )
    )
    em.emit("price.created", price)
    return price


@api.get("/v1/prices/{id}")
def retrieve_price(call: Call) -> StripeObject:
    """Retrieve a price."""
    return call.emulator.store.find("price", call.path["id"])


@api.post("/v1/prices/{id}")
def update_price(call: Call) -> StripeObject:
    """Update a price's active flag, nickname, lookup key or metadata."""
    p, em = call.params, call.emulator
    price = em.store.find("price", call.path["id"])
    changes: dict[str, object] = {k: p.text(k) for k in ("nickname", "lookup_key") if p.has(k)}
    if p.has("active"):
        changes["active"] = p.flag("active")
    changes["metadata"] = p.metadata(price["metadata"])
    return call.change(price, changes, "price.updated")


@api.get("/v1/prices")
def list_prices(call: Call) -> StripeObject:
    """List prices by `product`, `active`, `type`, `currency` or `lookup_keys`."""
    p = call.params
    product, active, kind = p.text("product"), p.flag("active"), p.text("type")
    currency, lookup_keys = p.text("currency"), p.strings("lookup_keys")
    items = [
        x
        for x in call.emulator.store.all("price")
        if (product is None or x["product"] == product)
        and (active is None or x["active"] == active)
        and (kind is None or x["type"] == kind)
        and (currency is None or x["currency"] == currency)
        and (not lookup_keys or x["lookup_key"] in lookup_keys)
    ]
    return call.page(items, "/v1/prices")


@api.post("/v1/coupons")
def create_coupon(call: Call) -> StripeObject:
    """Create a coupon (`percent_off`, or `amount_off` with `currency`)."""
    p, em = call.params, call.emulator
    coupon_id = p.text("id")
    if coupon_id is not None and em.store.get(coupon_id) is not None:
        raise invalid("Coupon already exists.", param="id", code="resource_already_exists")
    percent_off, amount_off = p.decimal("percent_off"), p.integer("amount_off")
    if (percent_off is None) == (amount_off is None):
        raise invalid("You must pass exactly one of percent_off or amount_off.")
    if percent_off is not None and not 0 < percent_off <= 100:
        raise invalid("percent_off must be between 0 and 100.", param="percent_off")
    currency = p.text("currency")
    if amount_off is not None and currency is None:
        raise invalid(
            "You must specify a currency when creating an amount_off coupon.", param="currency"
        )
    duration = p.choice("duration", DURATIONS) or "once"
    months = p.integer("duration_in_months")
    if duration == "repeating" and months is None:
        raise invalid(
            "duration_in_months is required for a repeating coupon.", param="duration_in_months"
        )
    coupon = em.store.add(
        catalog.coupon(
            coupon_id=coupon_id,
            created=em.now(),
            percent_off=percent_off,
            amount_off=amount_off,
            currency=currency.lower() if currency else None,
            duration=duration,
            duration_in_months=months,
            max_redemptions=p.integer("max_redemptions"),
            redeem_by=p.integer("redeem_by"),
            name=p.text("name"),
            metadata=p.metadata(),
        )
    )
    em.emit("coupon.created", coupon)
    return coupon


@api.get("/v1/coupons/{id}")
def retrieve_coupon(call: Call) -> StripeObject:
    """Retrieve a coupon."""
    return call.emulator.store.find("coupon", call.path["id"])


@api.post("/v1/coupons/{id}")
def update_coupon(call: Call) -> StripeObject:
    """Update a coupon's name or metadata."""
    p = call.params
    coupon = call.emulator.store.find("coupon", call.path["id"])
    changes: dict[str, object] = {"metadata": p.metadata(coupon["metadata"])}
    if p.has("name"):
        changes["name"] = p.text("name")
    return call.change(coupon, changes, "coupon.updated")


@api.delete("/v1/coupons/{id}")
def delete_coupon(call: Call) -> StripeObject:
    """Delete a coupon; existing discounts keep working."""
    em = call.emulator
    coupon = em.store.find("coupon", call.path["id"])
    coupon["valid"] = False
    em.emit("coupon.deleted", coupon)
    return {"id": coupon["id"], "object": "coupon", "deleted": True}


@api.get("/v1/coupons")
def list_coupons(call: Call) -> StripeObject:
    """List coupons."""
    return call.page([c for c in call.emulator.store.all("coupon") if c["valid"]], "/v1/coupons")


@api.post("/v1/promotion_codes")
def create_promotion_code(call: Call) -> StripeObject:
    """Create a promotion code for a coupon (`promotion[coupon]`, or legacy `coupon`)."""
    p, em = call.params, call.emulator
    coupon_id = p.sub("promotion").text("coupon") or p.text("coupon")
    if coupon_id is None:
        raise invalid(
            "Missing required param: promotion[coupon].",
            param="promotion[coupon]",
            code="parameter_missing",
        )
    coupon = em.store.find("coupon", coupon_id, param="promotion[coupon]")
    code = p.text("code") or coupon["id"].upper()
    if discounts.code_in_use(em.store, code):
        raise invalid(f"An active promotion code with `code: {code}` already exists.", param="code")
    active = p.flag("active")
    promo = em.store.add(
        catalog.promotion_code(
            created=em.now(),
            code=code,
            coupon_id=coupon["id"],
            active=True if active is None else active,
            customer=p.text("customer"),
            expires_at=p.integer("expires_at"),
            max_redemptions=p.integer("max_redemptions"),
            metadata=p.metadata(),
            restrictions=_restrictions(p.sub("restrictions")),
        )
    )
    em.emit("promotion_code.created", promo)
    return promo


def _restrictions(r: Params) -> StripeObject:
    """`restrictions[first_time_transaction|minimum_amount|minimum_amount_currency]`: a minimum
    amount goes with its currency."""
    minimum, currency = r.integer("minimum_amount"), r.text("minimum_amount_currency")
    if minimum is not None and minimum < 1:
        raise invalid("Invalid positive integer", param="restrictions[minimum_amount]")
    if (minimum is None) != (currency is None):
        missing = "minimum_amount_currency" if currency is None else "minimum_amount"
        raise invalid(
            "`minimum_amount` and `minimum_amount_currency` must be passed together.",
            param=f"restrictions[{missing}]",
        )
    return catalog.promotion_restrictions(
        first_time_transaction=bool(r.flag("first_time_transaction")),
        minimum_amount=minimum,
        minimum_amount_currency=currency.lower() if currency else None,
    )


@api.get("/v1/promotion_codes/{id}")
def retrieve_promotion_code(call: Call) -> StripeObject:
    """Retrieve a promotion code."""
    return call.emulator.store.find("promotion_code", call.path["id"])


@api.post("/v1/promotion_codes/{id}")
def update_promotion_code(call: Call) -> StripeObject:
    """Update a promotion code's active flag or metadata (nothing else of it changes: its
    code, coupon, limits, expiry and restrictions are fixed at creation). It is reactivated
    only while its coupon is valid, it is otherwise redeemable and no other active promotion
    code has its code."""
    p, em = call.params, call.emulator
    promo = em.store.find("promotion_code", call.path["id"])
    changes: dict[str, object] = {"metadata": p.metadata(promo["metadata"])}
    if p.has("active"):
        changes["active"] = p.flag("active")
    reactivated = changes.get("active") and not promo["active"]
    if reactivated and (
        not discounts.redeemable(em.store, promo, em.now())
        or discounts.code_in_use(em.store, promo["code"])
    ):
        raise invalid(
            "This promotion code cannot be reactivated: its coupon is no longer valid, it "
            "is no longer redeemable, or another active promotion code has its code.",
            param="active",
        )
    return call.change(promo, changes, "promotion_code.updated")


@api.get("/v1/promotion_codes")
def list_promotion_codes(call: Call) -> StripeObject:
    """List promotion codes by `code`, `coupon` or `active`."""
    p = call.params
    code, coupon, active = p.text("code"), p.text("coupon"), p.flag("active")
    items = [
        x
        for x in call.emulator.store.all("promotion_code")
        if (code is None or x["code"] == code)
        and (coupon is None or x["promotion"]["coupon"] == coupon)
        and (active is None or x["active"] == active)
    ]
    return call.page(items, "/v1/promotion_codes")
