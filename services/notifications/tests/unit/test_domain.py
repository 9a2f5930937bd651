"""Domain rules without I/O: money and date formatting, retry decisions, keys and Message-IDs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from notifications.adapters.templates import long_date
from notifications.domain import details, intents, stripe_intents
from notifications.domain.delivery import DeliveryFailure, RetryPolicy, after_attempt
from notifications.domain.links import Links
from notifications.domain.model import Kind, Status, message_id
from tollgate_shared.contracts.ledger import PaymentRecorded
from tollgate_shared.contracts.membership import (
    MembershipActivated,
    MembershipCanceled,
    MembershipRenewed,
    MembershipRevoked,
)
from tollgate_shared.contracts.stripe_objects import Invoice
from tollgate_shared.money import format_money

LINKS = Links("https://tollgate.example")


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "shown"),
    [
        (1500, "jpy", "en_US", "¥1,500"),
        (1500, "JPY", "ja_JP", "￥1,500"),
        (1250, "usd", "en_US", "$12.50"),
        (1250, "eur", "de_DE", "12,50\xa0€"),
        (1234, "kwd", "en_US", "KWD1.234"),
        (0, "gbp", "en_GB", "£0.00"),
    ],
)
def test_money_uses_the_currencys_minor_unit_and_the_locale(
    amount: int, currency: str, locale: str, shown: str
) -> None:
    assert format_money(amount, currency, locale) == shown


@pytest.mark.parametrize(
    ("day", "locale", "shown"),
    [
        (date(2026, 12, 4), "en_US", "December 4, 2026"),
        (date(2026, 12, 4), "de_DE", "4. Dezember 2026"),
        (date(2027, 1, 31), "en_GB", "31 January 2027"),
    ],
)
def test_dates_are_shown_in_the_readers_locale(day: date, locale: str, shown: str) -> None:
    assert long_date(day, locale) == shown
    assert long_date(day, locale) == shown  # remembered: the same answer


def test_transient_failures_back_off_then_give_up_and_permanent_ones_fail_at_once() -> None:
    policy = RetryPolicy(backoff=(1.0, 5.0), max_attempts=3)
    down = DeliveryFailure("connection refused", permanent=False)
    assert after_attempt(None, 1, policy).status is Status.SENT
    assert after_attempt(down, 1, policy).retry_in == 1.0
    assert after_attempt(down, 2, policy).retry_in == 5.0
    given_up = after_attempt(down, 3, policy)
    assert given_up.status is Status.FAILED and "3 attempts" in (given_up.reason or "")
    rejected = after_attempt(DeliveryFailure("550 no such user", permanent=True), 1, policy)
    assert (rejected.status, rejected.reason) == (Status.FAILED, "550 no such user")


def test_message_ids_follow_the_key_and_resends_differ() -> None:
    one = message_id("payment_receipt", "ch_1", "A@Example.com", domain="t.example")
    assert one == message_id("payment_receipt", "ch_1", "a@example.com", domain="t.example")
    assert one != message_id("payment_receipt", "ch_2", "a@example.com", domain="t.example")
    resent = message_id("payment_receipt", "ch_1", "a@example.com", domain="t.example", resend=1)
    assert resent != one and resent.endswith("@t.example>")


def test_a_payment_is_keyed_by_its_charge_whatever_event_carried_it() -> None:
    payment = {"amount": 100, "currency": "usd", "charge_id": "ch_1", "invoice_id": "in_1"}
    first, again = PaymentRecorded(**payment), PaymentRecorded(**payment)
    assert first.id != again.id
    assert intents.payment_receipt(first, LINKS).source_id == "ch_1"
    assert intents.payment_receipt(again, LINKS).source_id == "ch_1"
    no_charge = PaymentRecorded(amount=100, currency="usd", invoice_id="in_1")
    assert intents.payment_receipt(no_charge, LINKS).source_id == "in_1"


def test_each_renewed_period_is_its_own_fact_and_activation_is_one_per_subscription() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    member = {"user_id": "u", "group_id": "g", "subscription_id": "sub_1"}
    renewals = {
        intents.renewal_notice(MembershipRenewed(**member, expires_at=start + d), LINKS).source_id
        for d in (timedelta(days=30), timedelta(days=30, seconds=5), timedelta(days=60))
    }
    assert renewals == {"sub_1@2026-01-31", "sub_1@2026-03-02"}
    activated = MembershipActivated(**member, expires_at=start)
    assert intents.new_member(activated, LINKS).source_id == "sub_1"
    assert intents.new_member(activated, LINKS).kind is Kind.NEW_MEMBER


def test_a_subscription_receipt_carries_its_period() -> None:
    start, end = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
    paid = PaymentRecorded(amount=100, currency="usd", period_start=start, period_end=end)
    context = intents.payment_receipt(paid, LINKS).context
    assert (context["period_start"], context["period_end"]) == (start.isoformat(), end.isoformat())
    assert (
        intents.payment_receipt(PaymentRecorded(amount=1, currency="usd"), LINKS).context[
            "period_end"
        ]
        is None
    )


def test_every_ended_event_is_one_membership_ended_mail_saying_how_it_ended() -> None:
    who = {"user_id": "u", "group_id": "g", "subscription_id": "sub_1"}
    canceled = intents.membership_ended(MembershipCanceled(**who, reason="canceled"), LINKS)
    revoked = intents.membership_ended(MembershipRevoked(**who, reason="refunded"), LINKS)
    assert canceled.kind is revoked.kind is Kind.MEMBERSHIP_ENDED
    assert (canceled.context["ended_as"], revoked.context["ended_as"]) == ("canceled", "revoked")
    assert revoked.context["reason"] == "refunded"


def test_a_receipt_waits_for_its_charge_or_invoice_and_takes_the_payments_own_time() -> None:
    booked = PaymentRecorded(
        amount=100, currency="usd", charge_id="ch_1", invoice_id="in_1", tier_id="tier_1"
    )
    receipt = intents.payment_receipt(booked, LINKS)
    assert receipt.details_keys == ("ch_1", "in_1")
    assert receipt.context["paid_at"] is None  # not the ledger's booking time
    invoice = details.PaidInvoice.model_validate(
        {
            "id": "in_1",
            "status_transitions": {"paid_at": 1772620200},
            "lines": {"data": [{"description": "1 x Supporter"}]},
            "parent": {"subscription_details": {"metadata": {"tier_id": "tier_other"}}},
        }
    )
    charge = details.PaidCharge.model_validate(
        {"id": "ch_1", "amount": 100, "currency": "usd", "created": 1772616600, "metadata": {}}
    )
    completed = receipt.completed([details.of_charge(charge), details.of_invoice(invoice)])
    assert completed.details_keys == ()
    assert completed.context["paid_at"] == "2026-03-04T09:30:00+00:00"  # the charge's, first
    assert completed.context["description"] == "1 x Supporter"  # a blank filled
    assert completed.context["tier_id"] == "tier_1"  # what the ledger said wins
    assert completed.context["manage_url"] == "https://tollgate.example/account/billing"


def test_only_a_canceled_subscription_waits_for_stripes_reason() -> None:
    who = {"user_id": "u", "group_id": "g", "subscription_id": "sub_1"}
    canceled = intents.membership_ended(MembershipCanceled(**who, reason="canceled"), LINKS)
    paused = intents.membership_ended(MembershipCanceled(**who, reason="paused"), LINKS)
    revoked = intents.membership_ended(MembershipRevoked(**who, reason="refunded"), LINKS)
    one_time = MembershipCanceled(**{**who, "subscription_id": None}, reason="canceled")
    assert canceled.details_keys == ("sub_1",)
    assert paused.details_keys == revoked.details_keys == ()
    assert intents.membership_ended(one_time, LINKS).details_keys == ()
    ended = details.StripeSubscription.model_validate(
        {"id": "sub_1", "status": "canceled", "cancellation_details": {"reason": "payment_failed"}}
    )
    told = canceled.completed([details.of_ended_subscription(ended)])
    assert told.context["cancellation_reason"] == "payment_failed"


def test_a_failed_attempt_is_superseded_by_a_later_one_the_payment_or_its_due_retry() -> None:
    now = datetime(2026, 3, 4, tzinfo=UTC)
    second = Invoice(id="in_1", attempt_count=2, next_payment_attempt=int(now.timestamp()) + 60)
    assert details.superseded(second, details.InvoiceAttempts(2, paid=False)) is None
    assert details.superseded(second, details.InvoiceAttempts(3, paid=False)) is not None
    assert details.superseded(second, details.InvoiceAttempts(2, paid=True)) is not None
    intent = stripe_intents.payment_failed(second, LINKS)
    assert intent.source_id == "in_1#2"
    assert intent.stale_after == now + timedelta(seconds=60)
    last = Invoice(id="in_1", attempt_count=4, next_payment_attempt=None)
    assert stripe_intents.payment_failed(last, LINKS).stale_after is None


def test_a_trial_mail_is_one_per_subscription_and_trial_end_and_stale_after_it() -> None:
    ends = datetime(2027, 1, 15, 9, tzinfo=UTC)
    subscription = details.StripeSubscription.model_validate(
        {"id": "sub_1", "status": "trialing", "trial_end": int(ends.timestamp())}
    )
    intent = stripe_intents.trial_ending(subscription, LINKS)
    assert intent.source_id == "sub_1@trial-2027-01-15"
    assert intent.stale_after == ends
    assert intent.context["amount"] is None  # no single price: no amount shown
