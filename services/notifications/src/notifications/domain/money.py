"""Amounts in a currency's minor unit, shown the way a reader of a locale expects."""

from __future__ import annotations

import functools
from decimal import Decimal

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency

# Stripe's lists: amounts in these currencies are whole units / thousandths, not cents.
ZERO_DECIMAL = frozenset(
    [
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    ]
)
THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])


def exponent(currency: str) -> int:
    """How many digits of the minor unit Stripe uses for `currency`."""
    code = currency.lower()
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def major_units(amount: int, currency: str) -> Decimal:
    """`amount` minor units as a decimal of major units (1250 usd -> 12.50)."""
    return Decimal(amount).scaleb(-exponent(currency))


@functools.cache
def parsed_locale(identifier: str) -> Locale:
    """`identifier` (`en_US`) parsed once: Babel would parse a locale given by name at every
    call (see bench/README.md, "Figures behind the code")."""
    return Locale.parse(identifier)


def known_locale(identifier: str) -> bool:
    """Whether Babel knows the locale `identifier` names."""
    try:
        parsed_locale(identifier)
    except (UnknownLocaleError, ValueError):
        return False
    return True


@functools.lru_cache(maxsize=4096)
def format_money(amount: int, currency: str, locale: str) -> str:
    """E.g. 1250 usd -> `$12.50` (en_US), 1500 jpy -> `¥1,500`, 1250 eur -> `12,50 €` (de_DE).

    Remembered for the last 4,096 amounts: a receipt shows its amount up to six times (subject,
    text, HTML) and a group's members mostly pay its few prices."""
    return format_currency(
        major_units(amount, currency), currency.upper(), locale=parsed_locale(locale)
    )
