"""The chart's periods: every day, week (from Monday) or month of the window in UTC, those that
moved no money as zero, a negative net kept negative, points outside the window left out."""

from __future__ import annotations

from datetime import UTC, datetime

from ledger.entrypoints.console.charts import charts, start_of, window

NOW = datetime(2026, 1, 14, 15, 30, tzinfo=UTC)  # a Wednesday


def test_weeks_start_on_monday_and_months_cross_the_year() -> None:
    assert start_of("week", NOW) == datetime(2026, 1, 12, tzinfo=UTC)
    months = window("month", NOW)
    assert (len(months), months[0], months[-1]) == (
        24,
        datetime(2024, 2, 1, tzinfo=UTC),
        datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert months[22] == datetime(2025, 12, 1, tzinfo=UTC)
    days = window("day", NOW)
    assert (len(days), days[-1]) == (31, datetime(2026, 1, 14, tzinfo=UTC))


def test_every_period_is_drawn_and_a_negative_net_stays_negative() -> None:
    points = [
        {
            "period": datetime(2026, 1, 10, tzinfo=UTC),
            "currency": "jpy",
            "gross": 1500,
            "net": 1426,
        },
        {"period": datetime(2026, 1, 14, tzinfo=UTC), "currency": "jpy", "gross": 0, "net": -300},
        {"period": datetime(2025, 1, 1, tzinfo=UTC), "currency": "usd", "gross": 999, "net": 999},
    ]
    drawn = charts(points, "day", NOW)
    assert list(drawn) == ["jpy"], "a currency with nothing in the window is not charted"
    yen = drawn["jpy"]
    assert yen["decimals"] == 0 and yen["labels"][-1] == "Jan 14"
    assert yen["gross"] == [0] * 26 + [1500, 0, 0, 0, 0]
    assert yen["net"] == [0] * 26 + [1426, 0, 0, 0, -300]
    weekly = charts(points, "week", NOW)["jpy"]
    assert (weekly["gross"][-2:], weekly["net"][-2:]) == ([1500, 0], [1426, -300])
