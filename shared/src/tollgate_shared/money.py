"""Amounts in a currency's minor unit (as Stripe counts them), shown the way a reader of a
locale expects, and read back from what a person types in the currency's own units.

Needs the `money` extra (Babel)."""

from __future__ import annotations

import functools
import re
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

MAX_MINOR_UNITS = 2**53 - 1
"""The largest amount `minor_units` reads: beyond Stripe's amounts, and a browser's numbers."""

_TYPED = re.compile(r"(?P<whole>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)?(?:\.(?P<fraction>[0-9]*))?")


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


def minor_units(typed: str, currency: str) -> int:
    """What a person typed in `currency`'s units as minor units: `12.5` usd -> 1250, `1,500`
    jpy -> 1500, `1.250` kwd -> 1250. ValueError (saying why, for the person) for anything
    else: no digits, a sign, more decimals than the currency has, zero, or an amount beyond
    `MAX_MINOR_UNITS`."""
    text = typed.strip()
    match = _TYPED.fullmatch(text) if len(text) <= 40 else None
    if match is None or not (match["whole"] or match["fraction"]):
        raise ValueError("Type the amount as a number, like 12.50.")
    digits = exponent(currency)
    fraction = (match["fraction"] or "").rstrip("0")
    if len(fraction) > digits:
        places = "no decimals" if digits == 0 else f"at most {digits} decimals"
        raise ValueError(f"Amounts in {currency.upper()} have {places}.")
    whole = int((match["whole"] or "0").replace(",", ""))
    amount: int = whole * 10**digits + int(fraction.ljust(digits, "0") or "0")
    if amount <= 0:
        raise ValueError("The amount must be more than zero.")
    if amount > MAX_MINOR_UNITS:
        raise ValueError("That amount is too large.")
    return amount


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
