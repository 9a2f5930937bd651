"""Amounts in each currency's own units: shown as the mails show them, and read back from
what a person types (the console's refund and payout forms)."""

from __future__ import annotations

import pytest

from tollgate_shared.money import (
    MAX_MINOR_UNITS,
    exponent,
    format_money,
    major_units,
    minor_units,
)


@pytest.mark.parametrize(
    ("currency", "digits"), [("usd", 2), ("JPY", 0), ("krw", 0), ("kwd", 3), ("eur", 2)]
)
def test_each_currency_has_its_own_decimals(currency: str, digits: int) -> None:
    assert exponent(currency) == digits


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [(1250, "usd", "$12.50"), (1500, "jpy", "¥1,500"), (1250, "kwd", "KWD1.250")],
)
def test_amounts_are_shown_in_units(amount: int, currency: str, shown: str) -> None:
    assert format_money(amount, currency, "en_US") == shown


@pytest.mark.parametrize(
    ("typed", "currency", "amount"),
    [
        ("12.50", "usd", 1250),
        ("12.5", "usd", 1250),
        (" 7 ", "usd", 700),
        (".5", "usd", 50),
        ("1,234.56", "usd", 123456),
        ("1500", "jpy", 1500),
        ("1,500", "JPY", 1500),
        ("1500.00", "jpy", 1500),
        ("1.250", "kwd", 1250),
        ("0.001", "kwd", 1),
    ],
)
def test_typed_amounts_are_read_in_the_currencys_units(
    typed: str, currency: str, amount: int
) -> None:
    assert minor_units(typed, currency) == amount
    assert minor_units(str(major_units(amount, currency)), currency) == amount  # round trip


@pytest.mark.parametrize(
    ("typed", "currency", "why"),
    [
        ("", "usd", "as a number"),
        ("abc", "usd", "as a number"),
        ("-5", "usd", "as a number"),
        ("1e3", "usd", "as a number"),
        ("=1+2", "usd", "as a number"),
        ("12,50", "usd", "as a number"),
        ("\x00", "usd", "as a number"),
        ("١٢", "usd", "as a number"),  # other scripts' digits
        ("1" * 41, "usd", "as a number"),
        ("12.345", "usd", "at most 2 decimals"),
        ("1500.5", "jpy", "no decimals"),
        ("0", "usd", "more than zero"),
        ("0.00", "usd", "more than zero"),
        (str(MAX_MINOR_UNITS), "usd", "too large"),
        ("9" * 30, "jpy", "too large"),
    ],
)
def test_anything_else_is_refused_with_a_reason(typed: str, currency: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        minor_units(typed, currency)
