"""Subjects and bodies from each kind's two Jinja2 templates (`KindSpec.templates`), with
filters for money and dates in the reader's locale."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from babel.dates import format_date
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context

from notifications.domain.kinds import KINDS
from notifications.domain.model import Kind, Rendered
from tollgate_shared.money import format_money, parsed_locale

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@pass_context
def _money(context: Context, amount: int, currency: str) -> str:
    return format_money(amount, currency, context["locale"])


@functools.lru_cache(maxsize=1024)
def long_date(day: date, locale: str) -> str:
    """E.g. `December 4, 2026` (en_US), `4. Dezember 2026` (de_DE). Remembered: a receipt
    shows two dates, and the receipts of a day the same few."""
    return format_date(day, format="long", locale=parsed_locale(locale))


@pass_context
def _date(context: Context, value: str | datetime | None) -> str:
    if value is None:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return long_date(moment.astimezone(UTC).date(), context["locale"])


def _named_by_ids(context: Mapping[str, Any]) -> dict[str, Any]:
    """What a notification recorded before mails named tiers, items and members lacks: their
    ids (and the member's address) instead."""
    return {
        "tier_name": context.get("tier_id"),
        "item_name": context.get("item_id"),
        "member": context.get("email") or context.get("user_id"),
    }


class Renderer:
    """Renders every kind; a missing context value is an error, not a blank."""

    def __init__(self, default_locale: str) -> None:
        self.default_locale = default_locale
        self._env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,  # templates ship with the package: no stat per render
        )
        self._env.filters["money"] = _money
        self._env.filters["date"] = _date

    def render(
        self, kind: Kind, context: Mapping[str, Any], *, locale: str | None = None
    ) -> Rendered:
        """Subject, text and HTML of a `kind` notification."""
        values = {**_named_by_ids(context), **context, "locale": locale or self.default_locale}
        text_name, html_name = KINDS[kind].templates
        text = self._env.get_template(text_name)
        subject = "".join(text.blocks["subject"](text.new_context(values))).strip()
        values["subject"] = subject
        return Rendered(
            subject=subject,
            text=text.render(values).strip() + "\n",
            html=self._env.get_template(html_name).render(values),
        )
