"""The pricing calendar: billing's one home for Shanghai months, days, years and hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from billing.pricing import PricingError
from billing.pricing.calendar import (
    SHANGHAI,
    aware,
    days_in_month,
    month_bounds,
    month_of,
    month_text,
    months_between,
    next_month,
    parse_month,
    shanghai_day,
    shanghai_minute,
    shanghai_month,
    shanghai_text,
    shanghai_year,
    shift_month,
    utc_hour_start,
)


def sh(year, month, day, hour=0, minute=0):
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def test_a_utc_evening_on_the_last_day_of_a_month_is_already_the_next_month_in_shanghai():
    evening = datetime(2024, 1, 31, 20, tzinfo=UTC)
    assert month_of(evening) == (2024, 2)
    assert shanghai_day(evening) == date(2024, 2, 1)
    assert shanghai_month(evening) == (sh(2024, 2, 1), sh(2024, 3, 1))


def test_new_years_eve_in_utc_is_already_the_next_year_in_shanghai():
    assert shanghai_year(datetime(2024, 12, 31, 16, 30, tzinfo=UTC)) == 2025
    assert shanghai_year(datetime(2024, 12, 31, 15, 59, tzinfo=UTC)) == 2024


@pytest.mark.parametrize(
    ("year", "month", "months", "expected"),
    [
        (2024, 1, 1, (2024, 2)),
        (2024, 12, 1, (2025, 1)),
        (2024, 3, -3, (2023, 12)),
        (2024, 5, -17, (2022, 12)),
    ],
)
def test_months_shift_across_years(year, month, months, expected):
    assert shift_month(year, month, months) == expected


def test_months_between_lists_both_ends_and_crosses_the_year():
    assert months_between((2024, 11), (2025, 2)) == [(2024, 11), (2024, 12), (2025, 1), (2025, 2)]
    assert months_between((2025, 2), (2024, 11)) == []
    assert next_month(2024, 12) == (2025, 1)


def test_month_bounds_end_where_the_next_month_starts():
    assert month_bounds(2024, 12) == (sh(2024, 12, 1), sh(2025, 1, 1))
    with pytest.raises(PricingError, match="no month 13"):
        month_bounds(2024, 13)


def test_february_of_a_leap_year_has_29_days():
    assert (days_in_month(2024, 2), days_in_month(2025, 2)) == (29, 28)


def test_a_month_is_written_and_read_back_as_yyyy_mm():
    assert month_text(2024, 3) == "2024-03"
    assert parse_month(month_text(2024, 3)) == (2024, 3)
    with pytest.raises(PricingError, match="YYYY-MM"):
        parse_month("2024-3")


def test_times_are_shown_in_shanghai_wall_clock_time():
    moment = datetime(2024, 3, 1, 2, 5, tzinfo=UTC)
    assert shanghai_minute(moment) == "2024-03-01 10:05"
    assert shanghai_text(moment) == "2024-03-01 10:05 (Asia/Shanghai)"
    assert shanghai_minute(None) == ""


def test_an_hour_starts_on_the_utc_hour_whatever_the_offset():
    half_past = datetime(2024, 3, 1, 10, 59, 59, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    assert utc_hour_start(half_past) == datetime(2024, 3, 1, 5, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="aware"):
        utc_hour_start(datetime(2024, 3, 1, 10))


def test_a_naive_time_is_refused_with_what_it_was_for():
    with pytest.raises(PricingError, match="purchase time needs a time zone"):
        aware(datetime(2024, 3, 1, 10), "purchase time")
    assert aware(sh(2024, 3, 1), "purchase time") == sh(2024, 3, 1)
