"""Time in the vendors' bills (pure: no ORM, no clock): natural months and days in
Asia/Shanghai, hours settled at their last instant, months added the way packages expire,
and the ``YYYY-MM`` months pages and exports name.

The one home of billing's time helpers: pricing, bills, purchases, plans, pages, exports and
commands all use these instead of keeping their own.
"""

from __future__ import annotations

import calendar as _stdlib_calendar
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from billing.pricing.money import PricingError

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOUR = timedelta(hours=1)
HOUR_LAST_INSTANT = HOUR - timedelta(microseconds=1)

Month = tuple[int, int]  # (year, month)


def aware(moment: datetime, what: str) -> datetime:
    """``moment`` itself when it is a timezone-aware datetime; ``PricingError`` otherwise."""
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise PricingError(f"The {what} needs a time zone: {moment!r}.")
    return moment


# --- instants ----------------------------------------------------------------------------------


def add_months(moment: datetime, months: int) -> datetime:
    """The same Shanghai day of the month and time, ``months`` later.

    When the target month is shorter the day becomes its last day (29 February 2024 plus 12
    months is 28 February 2025). This is how "购买后12个月内有效" (``2. 购买次数包``) and
    CTYun's "资源包有效期一年" (``5.1 计费类``) are read: valid until that instant.
    """
    aware(moment, "start time")
    local = moment.astimezone(SHANGHAI)
    year, month = shift_month(local.year, local.month, months)
    day = min(local.day, days_in_month(year, month))
    return local.replace(year=year, month=month, day=day).astimezone(moment.tzinfo)


def shanghai_day(moment: datetime) -> date:
    """The natural day in Asia/Shanghai that ``moment`` falls on."""
    return aware(moment, "time").astimezone(SHANGHAI).date()


def utc_hour_start(moment: datetime) -> datetime:
    """The UTC start of the hour ``moment`` falls in (rollups are kept per UTC hour)."""
    if moment.utcoffset() is None:
        raise ValueError(f"An aware datetime is needed, not {moment!r}.")
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hour_settled_at(hour_start: datetime) -> datetime:
    """The instant an hourly rollup is settled at: the hour's last microsecond."""
    return hour_start + HOUR_LAST_INSTANT


def in_force(acquired_at: datetime, expires_at: datetime, at: datetime) -> bool:
    """Whether what was acquired at ``acquired_at``, expiring at ``expires_at``, serves ``at``."""
    return acquired_at <= at < expires_at


def shanghai_minute(moment: datetime | None) -> str:
    """``moment`` as Shanghai wall-clock time to the minute, the time bills are kept in."""
    if moment is None:
        return ""
    return f"{moment.astimezone(SHANGHAI):%Y-%m-%d %H:%M}"


def shanghai_text(moment: datetime) -> str:
    """``moment`` for a message: Shanghai wall-clock time, saying so."""
    return f"{shanghai_minute(moment)} (Asia/Shanghai)"


# --- months ------------------------------------------------------------------------------------


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    """Start (inclusive) and end (exclusive) of a natural month in Asia/Shanghai."""
    if not 1 <= month <= 12:
        raise PricingError(f"There is no month {month}.")
    start = datetime(year, month, 1, tzinfo=SHANGHAI)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=SHANGHAI)
    return start, end


def month_of(moment: datetime) -> Month:
    """The Shanghai (year, month) ``moment`` falls in."""
    local = moment.astimezone(SHANGHAI)
    return local.year, local.month


def shanghai_year(moment: datetime) -> int:
    """The Shanghai calendar year ``moment`` falls in (CTYun's free quota is yearly)."""
    return moment.astimezone(SHANGHAI).year


def shanghai_month(moment: datetime) -> tuple[datetime, datetime]:
    """The natural month in Asia/Shanghai containing ``moment``: [start, end)."""
    return month_bounds(*month_of(moment))


def shift_month(year: int, month: int, months: int) -> Month:
    """The (year, month) ``months`` after (or, negative, before) the given one."""
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def next_month(year: int, month: int) -> Month:
    return shift_month(year, month, 1)


def months_between(first: Month, last: Month) -> list[Month]:
    """The months from ``first`` to ``last``, both included."""
    months = []
    current = first
    while current <= last:
        months.append(current)
        current = next_month(*current)
    return months


def days_in_month(year: int, month: int) -> int:
    return _stdlib_calendar.monthrange(year, month)[1]


def month_text(year: int, month: int) -> str:
    """(year, month) as ``YYYY-MM``, the way pages, exports and ``parse_month`` write it."""
    return f"{year:04d}-{month:02d}"


def parse_month(text: str) -> Month:
    """``YYYY-MM`` to (year, month), or ``PricingError``."""
    try:
        year_text, month_text = text.strip().split("-")
        if len(year_text) != 4 or len(month_text) != 2:
            raise ValueError
        year, month = int(year_text), int(month_text)
    except (ValueError, AttributeError):
        raise PricingError(
            f"The month must be written YYYY-MM, like 2024-03, not {text!r}."
        ) from None
    if not 1 <= month <= 12 or year < 2000:
        raise PricingError(f"There is no month {text!r} to bill.")
    return year, month
