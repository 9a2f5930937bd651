"""Checkout's rules, without I/O."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from checkout.domain.catalog import PriceSpec, Tier
from checkout.domain.checkout import (
    CheckoutRecord,
    CheckoutRequest,
    Member,
    admit,
    can_move,
    check_redirect,
    superseded,
    switch_from,
)
from checkout.domain.coupons import Coupon, normalize_code
from checkout.domain.errors import Conflict, Invalid

NOW = datetime(2026, 6, 1, tzinfo=UTC)
TIER = Tier(
    id="tier_a",
    group_id="g",
    name="A",
    description=None,
    amount=2000,
    currency="nzd",
    interval="month",
    capacity=2,
    active=True,
    segment_prices={"student": 1000},
)


def member(tier_id: str = "tier_a", *, active: bool = True) -> Member:
    return Member("u", "g", tier_id, active, "sub_1")


def test_segment_prices_need_a_known_segment() -> None:
    assert TIER.price_for("student") == PriceSpec("student", 1000, "nzd", "month")
    assert TIER.price_for("pensioner") == PriceSpec("", 2000, "nzd", "month")
    assert TIER.price_for(None).amount == 2000
    assert replace(TIER, interval="one_time_annual").price_for(None).recurring is False


def test_capacity_admits_until_full() -> None:
    admit(TIER, None, seats_taken=1)
    with pytest.raises(Conflict, match="full"):
        admit(TIER, None, seats_taken=2)
    admit(replace(TIER, capacity=None), None, seats_taken=10_000)


def test_members_renew_one_time_tiers_but_never_double_subscribe() -> None:
    annual = replace(TIER, interval="one_time_annual")
    admit(annual, member(), seats_taken=2)
    with pytest.raises(Conflict, match="already a member"):
        admit(TIER, member(), seats_taken=0)
    admit(TIER, member(active=False), seats_taken=0)


def test_a_switch_names_the_subscription_it_replaces() -> None:
    assert switch_from(TIER, member("tier_b")) == "sub_1"
    assert switch_from(TIER, member()) is None
    assert switch_from(TIER, member("tier_b", active=False)) is None


def test_sessions_only_move_forward() -> None:
    assert can_move("pending", "open") and can_move("open", "paid")
    assert can_move("processing", "failed")
    assert not can_move("paid", "expired")
    assert not can_move("expired", "paid")
    assert not can_move("paid", "processing")


def test_idempotency_keys() -> None:
    request = CheckoutRequest(purpose="membership", tier_id="tier_a")
    assert request.idempotency_key("k1") == "key:k1"
    assert request.idempotency_key(None) == request.idempotency_key(None)
    other = CheckoutRequest(purpose="membership", tier_id="tier_b")
    assert other.idempotency_key(None) != request.idempotency_key(None)


def test_redirects_stay_on_allowed_origins() -> None:
    allowed = frozenset({"https://app.example.com"})
    assert check_redirect("https://app.example.com/ok?x=1", allowed)
    for url in (
        "https://app.example.com.evil.net/",
        "http://app.example.com/",
        "javascript:alert(1)",
        "//evil.net/",
    ):
        with pytest.raises(Invalid):
            check_redirect(url, allowed)


def coupon(**changes: object) -> Coupon:
    base = Coupon(
        id="c",
        group_id="g",
        code="SPRING",
        percent_off=Decimal(25),
        amount_off=None,
        currency=None,
        duration="once",
        duration_in_months=None,
        valid_from=NOW - timedelta(days=1),
        valid_until=NOW + timedelta(days=1),
        max_redemptions=2,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_coupon_rules() -> None:
    def why(c: Coupon, *, now: datetime = NOW, redeemed: int = 0, **more: object) -> str | None:
        options: dict[str, object] = {"amount": 2000, "first_time": True} | more
        return c.rejection(TIER, now=now, redeemed=redeemed, **options)  # type: ignore[arg-type]

    assert normalize_code("  spring ") == "SPRING"
    assert why(coupon(), redeemed=1) is None
    assert why(coupon(), redeemed=2) == "fully_redeemed"
    assert why(coupon(), now=NOW - timedelta(days=2)) == "not_started"
    assert why(coupon(), now=NOW + timedelta(days=1)) == "expired"
    assert why(coupon(tier_ids=["tier_b"])) == "not_applicable"
    assert why(coupon(group_id="h")) == "not_applicable"
    assert why(coupon(active=False)) == "inactive"
    assert why(coupon(percent_off=None, amount_off=500, currency="usd")) == "currency_mismatch"
    newcomers = coupon(first_time_transaction=True)
    assert (why(newcomers), why(newcomers, first_time=False)) == (None, "first_time_only")
    minimum = coupon(minimum_amount=2000, minimum_amount_currency="nzd")
    assert (why(minimum), why(minimum, amount=1999)) == (None, "below_minimum")
    assert why(replace(minimum, minimum_amount_currency="usd")) == "currency_mismatch"


def test_coupon_edits_and_their_promotion_code() -> None:
    synced = coupon(
        stripe_coupon_id="tollgate_c",
        stripe_promotion_code_id="promo_1",
        promotion_terms=coupon().promotion_terms_wanted(),
    )
    assert not synced.promotion_outdated(NOW)
    assert synced.edited({"name": "Spring sale"}, now=NOW).promotion_outdated(NOW) is False
    for change in (
        {"active": False},
        {"max_redemptions": 3},
        {"valid_until": NOW + timedelta(days=2)},
        {"valid_from": NOW + timedelta(hours=1)},
        {"first_time_transaction": True},
        {"minimum_amount": 100, "minimum_amount_currency": "nzd"},
    ):
        assert synced.edited(change, now=NOW).promotion_outdated(NOW), change
    for change, code in (
        ({"valid_until": NOW}, "window_ended"),
        ({"valid_until": NOW - timedelta(days=1, seconds=-1)}, "window_ended"),
        ({"valid_from": NOW + timedelta(days=2)}, "invalid_window"),
        ({"minimum_amount": 100}, "invalid_minimum"),
    ):
        with pytest.raises(Invalid) as refused:
            synced.edited(change, now=NOW)
        assert refused.value.code == code, change

    # A Stripe coupon made with the window's end as redeem_by cannot serve a later end.
    legacy = replace(synced, stripe_coupon_redeem_by=NOW + timedelta(days=1))
    assert not legacy.needs_new_stripe_coupon
    assert legacy.edited({"valid_until": NOW + timedelta(days=3)}, now=NOW).needs_new_stripe_coupon
    assert legacy.edited({"valid_until": None}, now=NOW).needs_new_stripe_coupon


def test_coupon_discounts() -> None:
    assert coupon().discount_on(2000) == 500
    assert coupon(percent_off=Decimal("33.33")).discount_on(1000) == 333
    assert coupon(percent_off=None, amount_off=5000, currency="nzd").discount_on(2000) == 2000


def test_an_earlier_paid_or_pending_session_blocks_a_new_one() -> None:
    record = CheckoutRecord(
        id="chk",
        user_id="u",
        group_id="g",
        purpose="membership",
        kind="session",
        tier_id="tier_a",
        item_id=None,
        reference=None,
        idempotency_key="key:k",
        request_hash="h",
        price_id="price_1",
        amount=2000,
        currency="nzd",
        coupon_id=None,
        stripe_id="cs_1",
        url="https://pay",
        email=None,
        status="open",
        expires_at=NOW + timedelta(minutes=30),
        released_at=None,
        paid_at=None,
        claimed_at=None,
        created_at=NOW,
    )
    assert superseded([record]) == [record]
    for status, code in (("paid", "already_paid"), ("pending", "request_in_progress")):
        with pytest.raises(Conflict) as raised:
            superseded([replace(record, status=status)])
        assert raised.value.code == code
    assert record.answers_retry(NOW)
    derived = replace(record, idempotency_key="auto:abc")
    assert derived.answers_retry(NOW)
    assert not derived.answers_retry(NOW + timedelta(hours=1))
