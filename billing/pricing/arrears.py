"""The arrears forecast behind the balance reminders (``余额不足提醒``, ``欠费处理``)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from billing.pricing.calendar import aware
from billing.pricing.money import ZERO

# --- arrears (`余额不足提醒`, `欠费处理`) ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Charge:
    """An amount billed for the period [start, end), e.g. one hour or one day."""

    start: datetime
    end: datetime
    amount: Decimal


@dataclass(frozen=True, slots=True)
class ArrearsForecast:
    """When the balance is forecast to run out at the recent run rate, and which reminder
    (3, 2 or 1 days before) is due now, if any."""

    daily_run_rate: Decimal
    runs_out_at: datetime | None
    reminder_days_before: int | None


REMINDER_DAYS = (3, 2, 1)


def forecast_arrears(
    balance: Decimal,
    charges: Iterable[Charge],
    *,
    now: datetime,
    lookback: timedelta = timedelta(days=7),
) -> ArrearsForecast:
    """Forecast when ``balance`` runs out, from the charges of the last ``lookback``.

    ``余额不足提醒``: "根据您的历史的账单金额，判断您的账户余额...是否足够支付未来的费用，若不足以
    支付，系统将在欠费前三天、两天、一天发送续费提醒短信". The run rate is the total of the
    charges that ended within the window, spread over the time from the earliest of them (or
    the window's start) to ``now``: periods without a charge count as zero. A reminder is due
    when the balance runs out within 3 days: 3 while more than 2 days are left, then 2, then 1.
    """
    aware(now, "current time")
    window_start = now - lookback
    recent = [c for c in charges if window_start <= c.start and c.end <= now]
    rate = _daily_rate(recent, window_start, now)
    if balance <= 0:
        return ArrearsForecast(rate, now, None)
    if rate <= 0:
        return ArrearsForecast(rate, None, None)
    days_left = balance / rate
    runs_out_at = now + timedelta(seconds=float(days_left * 86_400))
    reminder = math.ceil(days_left) if days_left <= max(REMINDER_DAYS) else None
    return ArrearsForecast(rate, runs_out_at, reminder)


def _daily_rate(charges: Sequence[Charge], window_start: datetime, now: datetime) -> Decimal:
    if not charges:
        return ZERO
    since = max(window_start, min(c.start for c in charges))
    seconds = Decimal((now - since) // timedelta(microseconds=1)).scaleb(-6)
    if seconds <= 0:
        return ZERO
    return sum((c.amount for c in charges), ZERO) * 86_400 / seconds


def is_in_arrears(balance: Decimal, last_hour_amount: Decimal) -> bool:
    """``欠费处理``: on the hour the balance is checked against the last hour's bill
    ("如北京时间11点整检查账户余额是否足以支付10点至11点的账单费用"); short means arrears, and
    then only free quota may be used."""
    return balance < last_hour_amount
