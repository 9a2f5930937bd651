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
    assert normalize_code("  spring ") == "SPRING"
    assert coupon().rejection(TIER, now=NOW, redeemed=1) is None
    assert coupon().rejection(TIER, now=NOW, redeemed=2) == "fully_redeemed"
    assert coupon().rejection(TIER, now=NOW - timedelta(days=2), redeemed=0) == "not_started"
    assert coupon().rejection(TIER, now=NOW + timedelta(days=1), redeemed=0) == "expired"
    assert coupon(tier_ids=["tier_b"]).rejection(TIER, now=NOW, redeemed=0) == "not_applicable"
    assert coupon(group_id="h").rejection(TIER, now=NOW, redeemed=0) == "not_applicable"
    assert coupon(active=False).rejection(TIER, now=NOW, redeemed=0) == "inactive"
    fixed = coupon(percent_off=None, amount_off=500, currency="usd")
    assert fixed.rejection(TIER, now=NOW, redeemed=0) == "currency_mismatch"


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
