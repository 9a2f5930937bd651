"""Billing period arithmetic in UTC."""

import calendar
from datetime import UTC, datetime, timedelta


def add_interval(timestamp: int, interval: str, count: int) -> int:
    """`timestamp` moved on by `count` days, weeks, months or years (day clamped to month end)."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    if interval == "day":
        return int((moment + timedelta(days=count)).timestamp())
    if interval == "week":
        return int((moment + timedelta(weeks=count)).timestamp())
    months = count * (12 if interval == "year" else 1)
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return int(moment.replace(year=year, month=month, day=day).timestamp())
