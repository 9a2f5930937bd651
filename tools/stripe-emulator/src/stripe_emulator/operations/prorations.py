"""Price changes of a subscription item: the proration lines Stripe bills (unused time on the
old price credited, remaining time on the new one charged, to the second), invoiced now
(`always_invoice`), added to the next renewal (`create_prorations`, pending), or not at all
(`none`); and the preview of the invoice such a change makes (`invoices/create_preview`)."""

from datetime import UTC, datetime
from typing import Any

from stripe_emulator.emulator import Emulator
from stripe_emulator.errors import invalid
from stripe_emulator.ids import new_id
from stripe_emulator.objects import billing as build
from stripe_emulator.operations import invoices
from stripe_emulator.operations.periods import add_interval
from stripe_emulator.store import StripeObject

BEHAVIORS = ("create_prorations", "always_invoice", "none")
PENDING = "pending_prorations"
"""The subscription's proration lines waiting for its next invoice (a secret of the store)."""


def _share(amount: int, item: StripeObject, at: int) -> int:
    start: int = item["current_period_start"]
    end: int = item["current_period_end"]
    if at >= end or end <= start:
        return 0
    return round(amount * (end - max(at, start)) / (end - start))


def lines(
    emulator: Emulator,
    subscription: StripeObject,
    item: StripeObject,
    new_price: StripeObject,
    at: int,
) -> list[dict[str, Any]]:
    """The two proration lines of changing `item` to `new_price` at `at`: a credit for the
    unused time on the old price, a charge for the remaining time on the new one."""
    old_price, quantity = item["price"], item["quantity"]
    when = datetime.fromtimestamp(at, UTC).strftime("%d %b %Y")
    made = []
    for price, sign, wording in ((old_price, -1, "Unused"), (new_price, 1, "Remaining")):
        amount = sign * _share(price["unit_amount"] * quantity, item, at)
        line = build.invoice_line(
            invoice_id="",
            item={**item, "price": price, "current_period_start": at},
            subscription_id=subscription["id"],
            amount_discount=0,
            discounts=[],
            description=f"{wording} time on {_name(emulator, price)} after {when}",
            metadata=dict(subscription["metadata"]),
        )
        line.update(amount=amount, subtotal=amount)
        line["parent"]["subscription_item_details"]["proration"] = True
        made.append(line)
    return made


def _name(emulator: Emulator, price: StripeObject) -> str:
    product = emulator.store.get(price["product"])
    return str(product["name"]) if product else str(price["id"])


def changed_item(
    emulator: Emulator, subscription: StripeObject, wanted: list[Any]
) -> tuple[StripeObject, StripeObject] | None:
    """The item whose price `items[]` changes and its new price (None when no price changes).
    Only a change of an existing item's price is covered."""
    for index, spec in enumerate(wanted):
        price_id = spec.text("price")
        if price_id is None:
            continue
        item_id = spec.text("id")
        item = next((i for i in subscription["items"]["data"] if i["id"] == item_id), None)
        if item is None:
            raise invalid(
                f"The subscription item {item_id} does not belong to this subscription; "
                "changing a price needs the item's id.",
                param=f"items[{index}][id]",
            )
        price = emulator.store.find("price", price_id, param=f"items[{index}][price]")
        if price["recurring"] is None or not price["active"]:
            raise invalid("The price must be active and recurring.", param=f"items[{index}][price]")
        if price["currency"] != item["price"]["currency"]:
            raise invalid(
                "A subscription's prices must share one currency.", param=f"items[{index}][price]"
            )
        old = item["price"]["recurring"]
        if (old["interval"], old["interval_count"]) != (
            price["recurring"]["interval"],
            price["recurring"]["interval_count"],
        ):
            raise invalid(
                "Changing a subscription's billing interval is not covered by this emulator "
                "(see its README).",
                param=f"items[{index}][price]",
            )
        return item, price
    return None


def change_price(
    emulator: Emulator,
    subscription: StripeObject,
    item: StripeObject,
    price: StripeObject,
    behavior: str,
) -> StripeObject | None:
    """Bill the item on `price` from now; its proration invoiced now, left pending or
    dropped by `behavior`. The invoice made now, if any (paid with the default method)."""
    now = emulator.now()
    prorated = lines(emulator, subscription, item, price, now) if behavior != "none" else []
    item["price"] = price
    secret = emulator.store.secret(subscription["id"])
    if behavior == "create_prorations":
        secret.setdefault(PENDING, []).extend(prorated)
        return None
    if behavior == "none":
        return None
    customer = emulator.store.objects[subscription["customer"]]
    invoice = invoices.draft(
        emulator,
        subscription=subscription,
        customer=customer,
        billing_reason="subscription_update",
        discount_ids=[],
        extra_lines=[*secret.pop(PENDING, []), *prorated],
        bill_items=False,
    )
    return invoice


def preview(
    emulator: Emulator,
    subscription: StripeObject,
    item: StripeObject,
    price: StripeObject,
    behavior: str,
) -> dict[str, Any]:
    """The invoice a price change would make: with `always_invoice` the one billed now (its
    prorations); otherwise the next renewal's (the new price for the next period, with the
    prorations if `create_prorations`)."""
    now = emulator.now()
    pending = list(emulator.store.secret(subscription["id"]).get(PENDING, []))
    prorated = lines(emulator, subscription, item, price, now) if behavior != "none" else []
    if behavior == "always_invoice":
        billed, start, end = [*pending, *prorated], now, item["current_period_end"]
    else:
        start = item["current_period_end"]
        recurring = price["recurring"]
        end = add_interval(start, recurring["interval"], recurring["interval_count"])
        renewal = build.invoice_line(
            invoice_id="",
            item={**item, "price": price, "current_period_start": start, "current_period_end": end},
            subscription_id=subscription["id"],
            amount_discount=0,
            discounts=[],
            description=f"{item['quantity']} \u00d7 {_name(emulator, price)}",
            metadata=dict(subscription["metadata"]),
        )
        billed = [*pending, *prorated, renewal]
    customer = emulator.store.objects[subscription["customer"]]
    invoice = build.invoice(
        created=now,
        customer=customer,
        subscription=subscription,
        billing_reason="upcoming",
        period_start=start,
        period_end=end,
        discounts=[],
    )
    total = sum(line["amount"] for line in billed)
    invoice.update(
        id=new_id("upcoming_in"),
        lines={
            "object": "list",
            "data": billed,
            "has_more": False,
            "total_count": len(billed),
            "url": "/v1/invoices/create_preview/lines",
        },
        subtotal=total,
        subtotal_excluding_tax=total,
        total=total,
        total_excluding_tax=total,
        amount_due=max(total, 0),
        amount_remaining=max(total, 0),
        next_payment_attempt=None if behavior == "always_invoice" else start,
    )
    return invoice
