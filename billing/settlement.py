"""Hourly settlement of vendor accounts: what each hour's usage cost, the balance, arrears,
the forecast of when the money runs out, and the balance reminders.

``settle(account, until)`` settles every whole hour that ended by ``until`` and was not
settled yet, the way Baidu checks "整点" (``欠费处理``):

* the hour's usage cost is its pay-as-you-go calls priced at their place in the month's
  graduated tiers (``pricing.baidu_allocate_hours`` + ``pricing.baidu_hour_charge``:
  free quota, packages and QPS orders first), stored as ``HourlyCharge``. Each new hour is
  charged the month's cumulative exact cost up to its end minus what the month's earlier
  hours were charged, so the hourly charges of a month add up to the month's pay-as-you-go
  amounts before rounding, and calls recorded late for an hour already settled are charged
  with the next hour settled in the same month. CTYun usage is prepaid by packages, so its
  hours cost nothing and no charge rows are written.
* balance = top-ups - package and QPS purchases - hourly charges, everything before the end
  of the last settled hour. Purchases are charged when made (on the bill of their month).
* arrears: the balance must pay the last hour's charge (``pricing.is_in_arrears`` on the
  balance before that charge), that is the balance after it must not be negative;
* forecast: ``pricing.forecast_arrears`` from the last 7 days of hourly charges gives
  ``runs_out_at``; a reminder is due 3, 2 and 1 days before (``余额不足提醒``).

Settled hours are never recomputed, and arrears never rewrite history: a top-up only
changes the balance from the next settlement on.

Reminders and arrears notices are kept, each once per episode, in
``AccountStatus.reminders_sent`` (``notices(status)`` lists them for the finance pages)
and logged at WARNING. An episode ends when the balance is healthy again (no reminder due,
not in arrears): the record is cleared, so the next shortfall is reminded again.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from billing import bills, plans, pricing
from billing.facts import account_facts
from billing.models import AccountStatus, HourlyCharge, Package, QpsOrder, TopUp
from billing.pricing import BaiduPlan
from billing.pricing.calendar import (
    HOUR,
    month_bounds,
    month_of,
    months_between,
    shanghai_text,
    utc_hour_start,
)
from billing.rollup import hourly_usage
from monitoring.backends.registry import traits

logger = logging.getLogger(__name__)

MICRO = Decimal("0.000001")
ZERO = Decimal(0)
FORECAST_LOOKBACK = timedelta(days=7)


def _sum(queryset, field: str) -> Decimal:
    return queryset.aggregate(total=Sum(field))["total"] or ZERO


def _baidu_hour_charges(account, facts, start: datetime, end: datetime) -> dict:
    """New ``HourlyCharge`` amounts for the hours in [start, end), by hour start."""
    charges: dict[datetime, Decimal] = {}
    months = months_between(month_of(start), month_of(end - HOUR))
    carried = bills.opening_carry(account, *months[0], facts)
    for year, month in months:
        m_start, m_end = month_bounds(year, month)
        until = min(m_end, end)
        plan = plans.plan_for_month("baidu", year, month)
        assert isinstance(plan, BaiduPlan)
        known = plans.priced_apis(plan)
        usage = [row for row in hourly_usage(account, m_start, until) if row.api in known]
        allocations, closing = pricing.baidu_allocate_hours(
            usage,
            plan=plan,
            until=until,
            free_quotas=[q for q in facts.free_quotas if q.api in known],
            packages=[p for p in facts.packages if p.api in known],
            qps_orders=[o for o in facts.qps_orders if o.api in known],
            carried=carried,
        )
        carried = closing
        exact: dict[datetime, Decimal] = defaultdict(lambda: ZERO)
        for allocation in allocations:
            exact[allocation.hour_start] += pricing.baidu_hour_charge(allocation, plan)
        first_new = max(start, m_start)
        charged = _sum(
            HourlyCharge.objects.filter(account=account, hour__gte=m_start, hour__lt=first_new),
            "amount",
        )
        cumulative = sum((v for h, v in exact.items() if h < first_new), ZERO)
        hour = first_new
        while hour < until:
            cumulative += exact.get(hour, ZERO)
            amount = cumulative.quantize(MICRO) - charged
            if amount or hour in exact:
                charges[hour] = amount
                charged += amount
            hour += HOUR
    return charges


def _first_hour(facts) -> datetime | None:
    return utc_hour_start(facts.earliest) if facts.earliest else None


def balance_at(account, moment: datetime) -> Decimal:
    """Top-ups minus purchases minus hourly charges, everything before ``moment`` (exact)."""
    top_ups = _sum(TopUp.objects.filter(account=account, at__lt=moment), "amount")
    packages = _sum(Package.objects.filter(account=account, purchased_at__lt=moment), "price")
    orders = _sum(QpsOrder.objects.filter(account=account, purchased_at__lt=moment), "price")
    charges = _sum(HourlyCharge.objects.filter(account=account, hour__lt=moment), "amount")
    return top_ups - packages - orders - charges


def _update_notices(status: AccountStatus, account, forecast, at: datetime) -> None:
    sent = dict(status.reminders_sent or {})
    if status.in_arrears:
        if "arrears" not in sent:
            message = (
                f"{account.name} is in arrears since {shanghai_text(at)}: balance {status.balance} "
                "CNY. Only free quota may be used until it is topped up."
            )
            sent["arrears"] = {"sent_at": at.isoformat(), "message": message}
            logger.warning("billing notice: %s", message)
    else:
        sent.pop("arrears", None)
    days = forecast.reminder_days_before
    if days is None and not status.in_arrears:
        for key in ("3", "2", "1"):
            sent.pop(key, None)
    elif days is not None and str(days) not in sent:
        message = (
            f"{account.name}: the balance ({status.balance} CNY) is forecast to run out "
            f"within {days} day{'s' if days > 1 else ''}, at about "
            f"{shanghai_text(forecast.runs_out_at)}. Please top up."
        )
        sent[str(days)] = {
            "sent_at": at.isoformat(),
            "runs_out_at": forecast.runs_out_at.isoformat(),
            "message": message,
        }
        logger.warning("billing reminder: %s", message)
    status.reminders_sent = sent


def notices(status: AccountStatus | None) -> list[dict]:
    """The current reminders and arrears notice of an account, newest first."""
    if status is None:
        return []
    entries = [
        {"kind": "arrears" if key == "arrears" else f"{key}_days_before", **value}
        for key, value in (status.reminders_sent or {}).items()
        if isinstance(value, dict)
    ]
    return sorted(entries, key=lambda e: e.get("sent_at", ""), reverse=True)


def settle(account, until: datetime | None = None) -> AccountStatus:
    """Settle the whole hours that ended by ``until`` (default now) and update the status."""
    vendor = plans.billing_vendor(account)
    until = until or timezone.now()
    settle_to = utc_hour_start(until)
    with transaction.atomic():
        status, _created = AccountStatus.objects.select_for_update().get_or_create(account=account)
        facts = account_facts(account)
        if status.settled_until is not None:
            start = status.settled_until
        else:
            start = min(_first_hour(facts) or settle_to, settle_to)
        if start < settle_to:
            if traits(vendor).billed_per_call:
                charges = _baidu_hour_charges(account, facts, start, settle_to)
                HourlyCharge.objects.bulk_create(
                    [
                        HourlyCharge(account=account, hour=hour, amount=amount)
                        for hour, amount in sorted(charges.items())
                    ],
                    ignore_conflicts=True,
                    batch_size=1000,
                )
            status.settled_until = settle_to
        elif status.settled_until is None:
            status.settled_until = start
        settled = status.settled_until
        balance = balance_at(account, settled)
        last_hour = HourlyCharge.objects.filter(account=account, hour=settled - HOUR).first()
        last_amount = last_hour.amount if last_hour else ZERO
        status.in_arrears = pricing.is_in_arrears(balance + last_amount, last_amount)
        status.balance = pricing.round_line(balance)
        recent = HourlyCharge.objects.filter(
            account=account, hour__gte=settled - FORECAST_LOOKBACK, hour__lt=settled
        ).values_list("hour", "amount")
        forecast = pricing.forecast_arrears(
            balance,
            [pricing.Charge(hour, hour + HOUR, amount) for hour, amount in recent],
            now=settled,
            lookback=FORECAST_LOOKBACK,
        )
        status.runs_out_at = forecast.runs_out_at
        _update_notices(status, account, forecast, settled)
        status.save()
    return status


def settle_all(until: datetime | None = None) -> int:
    """Settle every Baidu and CTYun account; the number settled."""
    from monitoring.models import VendorAccount

    count = 0
    for account in VendorAccount.objects.filter(vendor__in=plans.BILLED_VENDORS).order_by("pk"):
        try:
            settle(account, until)
        except Exception:
            # One account's problem must not stop the others' settlement; it is retried
            # on the next hour (settled hours are never settled twice).
            logger.exception("billing: account %s could not be settled", account.pk)
            continue
        count += 1
    return count
