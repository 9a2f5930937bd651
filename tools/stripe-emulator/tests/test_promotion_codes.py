"""Promotion codes: restrictions (first-time customers, a minimum amount) as Stripe applies them
in Checkout, and what an update may change (active only; reactivation while redeemable)."""

from typing import Any

import pytest
import stripe

from stripe_emulator.testing import RunningEmulator


def promotion_code(client: stripe.StripeClient, code: str, **params: Any) -> stripe.PromotionCode:
    coupon = client.v1.coupons.create({"percent_off": 10, "duration": "once"})
    return client.v1.promotion_codes.create(
        {"promotion": {"type": "coupon", "coupon": coupon.id}, "code": code, **params}
    )


def session(
    client: stripe.StripeClient, price: stripe.Price, **params: Any
) -> stripe.checkout.Session:
    return client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "line_items": [{"price": price.id, "quantity": 1}],
            "success_url": "https://app.example/done",
            **params,
        }
    )


def test_restrictions_are_kept_as_given(client: stripe.StripeClient) -> None:
    plain = promotion_code(client, "PLAIN")
    assert plain.restrictions.to_dict() == {
        "first_time_transaction": False,
        "minimum_amount": None,
        "minimum_amount_currency": None,
    }
    restricted = promotion_code(
        client,
        "NEWBIES",
        restrictions={
            "first_time_transaction": True,
            "minimum_amount": 2000,
            "minimum_amount_currency": "EUR",
        },
    )
    assert client.v1.promotion_codes.retrieve(restricted.id).restrictions.to_dict() == {
        "first_time_transaction": True,
        "minimum_amount": 2000,
        "minimum_amount_currency": "eur",
    }
    for half in ({"minimum_amount": 2000}, {"minimum_amount_currency": "eur"}):
        with pytest.raises(stripe.InvalidRequestError) as refused:
            promotion_code(client, "HALFDONE", restrictions=half)
        assert refused.value.param is not None and "restrictions" in refused.value.param


def test_a_minimum_amount_holds_in_its_currency_only(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    promo = promotion_code(
        client, "BIGSPEND", restrictions={"minimum_amount": 1600, "minimum_amount_currency": "eur"}
    )
    with pytest.raises(stripe.InvalidRequestError, match="minimum amount"):
        session(client, catalog["once"], discounts=[{"promotion_code": promo.id}])  # 1500 eur
    dearer = client.v1.prices.create(
        {"product": catalog["product"].id, "currency": "eur", "unit_amount": 1600}
    )
    assert session(client, dearer, discounts=[{"promotion_code": promo.id}]).amount_total == 1440
    dollars = client.v1.prices.create(
        {"product": catalog["product"].id, "currency": "usd", "unit_amount": 5000}
    )
    with pytest.raises(stripe.InvalidRequestError, match="minimum amount"):
        session(client, dollars, discounts=[{"promotion_code": promo.id}])

    # Typed on the payment page, the same.
    typed = session(client, catalog["once"], allow_promotion_codes=True)
    refused = emulator.http.post(
        f"/_emulator/checkout/sessions/{typed.id}/complete",
        json={"card_number": "4242424242424242", "promotion_code": "bigspend"},
    )
    assert refused.status_code == 400
    assert "minimum amount" in refused.text
    assert client.v1.checkout.sessions.retrieve(typed.id).status == "open"


def test_first_time_codes_refuse_customers_who_paid_before(
    client: stripe.StripeClient, catalog: dict[str, Any], emulator: RunningEmulator
) -> None:
    promo = promotion_code(client, "WELCOME", restrictions={"first_time_transaction": True})
    newcomer = client.v1.customers.create({"email": "new@example.com"})
    regular = client.v1.customers.create({"email": "regular@example.com"})
    paid = session(client, catalog["once"], customer=regular.id)
    emulator.control("POST", f"/checkout/sessions/{paid.id}/complete", json={})

    welcomed = session(
        client, catalog["once"], customer=newcomer.id, discounts=[{"promotion_code": promo.id}]
    )
    assert welcomed.amount_total == 1350
    with pytest.raises(stripe.InvalidRequestError, match="prior transactions"):
        session(
            client, catalog["once"], customer=regular.id, discounts=[{"promotion_code": promo.id}]
        )


def test_only_active_changes_and_reactivation_needs_a_redeemable_free_code(
    client: stripe.StripeClient, catalog: dict[str, Any]
) -> None:
    promo = promotion_code(client, "AUTUMN", max_redemptions=5)
    off = client.v1.promotion_codes.update(promo.id, {"active": False})
    assert off.active is False
    with pytest.raises(stripe.InvalidRequestError, match="cannot be redeemed"):
        session(client, catalog["once"], discounts=[{"promotion_code": promo.id}])

    # Another promotion code takes the code meanwhile: this one cannot come back.
    successor = promotion_code(client, "autumn")
    with pytest.raises(stripe.InvalidRequestError, match="cannot be reactivated"):
        client.v1.promotion_codes.update(promo.id, {"active": True})
    client.v1.promotion_codes.update(successor.id, {"active": False})
    assert client.v1.promotion_codes.update(promo.id, {"active": True}).active is True
    assert client.v1.promotion_codes.retrieve(promo.id).max_redemptions == 5
