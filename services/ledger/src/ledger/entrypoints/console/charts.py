"""A group's revenue per day, week or month as the chart draws it: every period of the window,
those that moved no money as zero, in UTC (as the summary counts periods)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from tollgate_shared.money import exponent

BUCKETS = {"day": 31, "week": 26, "month": 24}
"""The periods a chart can be drawn per, and how many of them it shows (up to this one)."""


def start_of(bucket: str, at: datetime) -> datetime:
    """The start of the period of `bucket` that `at` falls in (UTC; weeks start on Monday)."""
    day = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if bucket == "week":
        return day - timedelta(days=day.weekday())
    if bucket == "month":
        return day.replace(day=1)
    return day


def step(bucket: str, start: datetime, periods: int) -> datetime:
    """The period `periods` after (or, negative, before) the one starting at `start`."""
    if bucket == "month":
        months = start.year * 12 + start.month - 1 + periods
        return start.replace(year=months // 12, month=months % 12 + 1)
    return start + timedelta(days=periods * (7 if bucket == "week" else 1))


def window(bucket: str, now: datetime) -> list[datetime]:
    """The starts of the periods a chart per `bucket` shows, oldest first, ending with now's."""
    last = start_of(bucket, now)
    return [step(bucket, last, i) for i in range(1 - BUCKETS[bucket], 1)]


def charts(
    points: Iterable[dict[str, Any]], bucket: str, now: datetime
) -> dict[str, dict[str, Any]]:
    """Per currency, what the chart draws: each period's start (Unix seconds) and label, and its
    gross and net in minor units (zero where nothing moved; net below zero when refunds,
    disputes and fees outweighed the gross), with the currency's decimals."""
    periods = window(bucket, now)
    index = {at: i for i, at in enumerate(periods)}
    drawn: dict[str, dict[str, Any]] = {}
    for point in points:
        at = start_of(bucket, point["period"])
        if at not in index:
            continue
        currency = point["currency"]
        chart = drawn.setdefault(currency, _empty(currency, periods, bucket))
        chart["gross"][index[at]] += point["gross"]
        chart["net"][index[at]] += point["net"]
    return dict(sorted(drawn.items()))


def _empty(currency: str, periods: list[datetime], bucket: str) -> dict[str, Any]:
    label = {"day": "%b %d", "week": "week of %b %d", "month": "%b %Y"}[bucket]
    return {
        "currency": currency,
        "decimals": exponent(currency),
        "bucket": bucket,
        "x": [int(at.timestamp()) for at in periods],
        "labels": [at.strftime(label) for at in periods],
        "gross": [0] * len(periods),
        "net": [0] * len(periods),
    }
