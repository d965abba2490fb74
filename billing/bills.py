"""Monthly bills of vendor accounts: computed while a month is open, frozen once final.

``current_bill(account, year, month)`` prices a natural Shanghai month with the vendor's
own rules (``pricing.baidu_month_bill`` / ``pricing.ctyun_month_bill``), from:

* the month's hourly usage (``rollup.hourly_usage``, always current);
* the plan in force at the month's start (``plans.plan_for_month``);
* the account's free quotas (``facts.free_quotas_of``): Baidu per API from that API's own
  claim date and the certification (``免费测试资源``, valid 365 days); CTYun per metered
  API and calendar year of each claim (``3.1 计费模式``, "当年有效");
* its packages and QPS orders (prices as paid);
* the carried state (free quota and package calls used, pay-as-you-go calls this month)
  at the month's start: the closing state of the latest final bill before it, rolled
  forward month by month, or, with no final bill, replayed from the first claim,
  purchase or call.

A final month is never recomputed: its stored lines are shown with the adjustments made
since. ``finalize`` freezes a month that has ended (once); ``add_adjustment`` adds a
correction line to a final bill.

Calls of APIs the plan does not price (e.g. Baidu's invite-only ``fingertip``) are not on
any line; the bill lists them under ``unpriced_calls``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from billing import plans, pricing
from billing.facts import AccountFacts, account_facts
from billing.models import (
    Bill,
    BillAdjustment,
    BillStatus,
)
from billing.pricing import (
    BaiduPlan,
    BillLine,
    Carry,
    HourlyUsage,
    LineKind,
    MonthBill,
    PricingError,
)
from billing.pricing.calendar import (
    HOUR,
    SHANGHAI,
    month_bounds,
    month_of,
    months_between,
    next_month,
    shanghai_day,
    utc_hour_start,
)
from billing.pricing.money import CENT, ZERO
from billing.rollup import hourly_usage

# Lines that count calls of the month (every kind but the purchases).
USAGE_KINDS = frozenset(
    {
        LineKind.FREE,
        LineKind.PACKAGE,
        LineKind.PAYG,
        LineKind.QPS_USAGE,
        LineKind.NOT_BILLED,
        LineKind.LIMITED_TIME_FREE,
        LineKind.OVER_QUOTA,
    }
)


# --- computing -----------------------------------------------------------------------------


def _fits(plan, api: str) -> bool:
    return any(a.api == api for a in plan.apis)


def _price_month(
    plan, year: int, month: int, usage: Sequence[HourlyUsage], facts: AccountFacts, carried
) -> MonthBill:
    """One month's bill with the plan's rules; usage of APIs the plan does not know is left
    out (see ``unpriced``)."""
    known = plans.priced_apis(plan)
    usage = [row for row in usage if row.api in known]
    free = [q for q in facts.free_quotas if _fits(plan, q.api)]
    packages = [p for p in facts.packages if _fits(plan, p.api)]
    if isinstance(plan, BaiduPlan):
        orders = [o for o in facts.qps_orders if _fits(plan, o.api)]
        return pricing.baidu_month_bill(
            year,
            month,
            usage,
            plan=plan,
            free_quotas=free,
            packages=packages,
            qps_orders=orders,
            carried=carried,
        )
    return pricing.ctyun_month_bill(
        year, month, usage, plan=plan, free_quotas=free, packages=packages, carried=carried
    )


def _latest_final_before(account, year: int, month: int) -> Bill | None:
    return (
        Bill.objects.filter(account=account, status=BillStatus.FINAL)
        .filter(Q(year__lt=year) | Q(year=year, month__lt=month))
        .order_by("-year", "-month")
        .first()
    )


def opening_carry(account, year: int, month: int, facts: AccountFacts | None = None):
    """The carried state at the start of a month: from the latest final bill before it,
    rolled forward through the months after that; None when nothing happened before."""
    facts = facts or account_facts(account)
    start, _end = month_bounds(year, month)
    final = _latest_final_before(account, year, month)
    if final is not None:
        carried: Carry | None = pricing.carry_from_dict(final.closing)
        first = next_month(final.year, final.month)
    else:
        carried = None
        if facts.earliest is None or facts.earliest >= start:
            return None
        first = month_of(facts.earliest)
    if first >= (year, month):
        return carried
    replay_start = month_bounds(*first)[0]
    usage = hourly_usage(account, replay_start, start)
    last = (year - 1, 12) if month == 1 else (year, month - 1)
    for y, m in months_between(first, last):
        m_start, m_end = month_bounds(y, m)
        month_usage = [row for row in usage if m_start <= row.hour_start < m_end]
        plan = plans.plan_for_month(facts.vendor, y, m)
        carried = _price_month(plan, y, m, month_usage, facts, carried).closing
    return carried


# --- the bill as finance reads it ------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    """Shanghai time, ISO 8601 with its offset (how finance reads times)."""
    return moment.astimezone(SHANGHAI).isoformat() if moment else None


def _two(amount: Decimal) -> str:
    return f"{amount.quantize(CENT):f}"


def _exact(amount: Decimal) -> str:
    """An exact amount with at least two decimals (tier rows are not rounded)."""
    rounded = amount.quantize(CENT)
    return f"{rounded:f}" if rounded == amount else f"{amount.normalize():f}"


def line_to_dict(line: BillLine, notes: dict[str, str] | None = None) -> dict[str, Any]:
    note = line.note
    if notes and line.reference in notes and line.kind == LineKind.PACKAGE:
        note = f"{note}: {notes[line.reference]}"
    return {
        "api": line.api,
        "kind": str(line.kind),
        "calls": line.calls,
        "amount": _two(line.amount),
        "reference": line.reference,
        "note": note,
        "tiers": [
            {
                "from": row.lower,
                "to": row.upper,
                "calls": row.calls,
                "unit_price": f"{row.price_per_thousand:f}",
                "amount": _exact(row.exact_amount),
            }
            for row in line.tiers
        ],
    }


def adjustment_to_dict(adjustment: BillAdjustment) -> dict[str, Any]:
    user = adjustment.created_by
    return {
        "id": adjustment.pk,
        "api": adjustment.api,
        "amount": _two(adjustment.amount),
        "note": adjustment.note,
        "created_at": _iso(adjustment.created_at),
        "created_by": user.get_username() if user else None,
    }


@dataclass(frozen=True)
class BillView:
    """A month's bill of one account, draft or final, as finance reads it."""

    account_id: int
    account: str
    vendor: str
    year: int
    month: int
    status: str
    lines: tuple[dict[str, Any], ...]
    lines_total: Decimal
    adjustments: tuple[dict[str, Any], ...]
    total: Decimal
    plan_name: str
    plan_effective_from: datetime | None
    computed_at: datetime
    finalized_at: datetime | None = None
    finalized_by: str | None = None
    late_calls: dict[str, int] = field(default_factory=dict)
    unpriced_calls: dict[str, int] = field(default_factory=dict)
    month_bill: MonthBill | None = None  # drafts only: the pricing result itself

    @property
    def period(self) -> tuple[datetime, datetime]:
        return month_bounds(self.year, self.month)

    def lines_of(self, kind: str, api: str | None = None) -> list[dict[str, Any]]:
        return [
            line
            for line in self.lines
            if line["kind"] == str(kind) and (api is None or line["api"] == api)
        ]

    def to_dict(self) -> dict[str, Any]:
        start, end = self.period
        return {
            "account": self.account,
            "account_id": self.account_id,
            "vendor": self.vendor,
            "month": f"{self.year:04d}-{self.month:02d}",
            "status": self.status,
            "currency": "CNY",
            "period_start": start.isoformat(),
            "period_end": end.isoformat(),
            "plan": {
                "name": self.plan_name,
                "effective_from": _iso(self.plan_effective_from),
            },
            "lines": [dict(line) for line in self.lines],
            "lines_total": _two(self.lines_total),
            "adjustments": [dict(a) for a in self.adjustments],
            "total": _two(self.total),
            "computed_at": _iso(self.computed_at),
            "finalized_at": _iso(self.finalized_at),
            "finalized_by": self.finalized_by,
            "late_calls": dict(self.late_calls),
            "unpriced_calls": dict(self.unpriced_calls),
        }


def _calls_by_api(usage: Iterable[HourlyUsage]) -> dict[str, int]:
    calls: dict[str, int] = defaultdict(int)
    for row in usage:
        calls[row.api] += row.success + row.failed
    return dict(calls)


def _unpriced(plan, usage: Iterable[HourlyUsage]) -> dict[str, int]:
    known = plans.priced_apis(plan)
    return {api: calls for api, calls in sorted(_calls_by_api(usage).items()) if api not in known}


def _plan_info(vendor: str, year: int, month: int) -> tuple[Any, str, datetime | None]:
    start, _end = month_bounds(year, month)
    version = plans.version_at(vendor, start)
    plan = plans.plan_for_month(vendor, year, month)
    return plan, plan.name, version.effective_from if version else None


def _draft(account, year: int, month: int, usage_extra: Sequence[HourlyUsage] = ()):
    """The month computed now: (BillView, opening carry, usage)."""
    facts = account_facts(account)
    start, end = month_bounds(year, month)
    carried = opening_carry(account, year, month, facts)
    usage = hourly_usage(account, start, end)
    plan, plan_name, effective_from = _plan_info(facts.vendor, year, month)
    month_bill = _price_month(plan, year, month, [*usage, *usage_extra], facts, carried)
    view = BillView(
        account_id=account.pk,
        account=account.name,
        vendor=facts.vendor,
        year=year,
        month=month,
        status=BillStatus.DRAFT.value,
        lines=tuple(line_to_dict(line, facts.package_notes) for line in month_bill.lines),
        lines_total=month_bill.total,
        adjustments=(),
        total=month_bill.total,
        plan_name=plan_name,
        plan_effective_from=effective_from,
        computed_at=timezone.now(),
        unpriced_calls=_unpriced(plan, usage),
        month_bill=month_bill,
    )
    return view, carried, usage


def _final_view(account, bill: Bill) -> BillView:
    vendor = plans.billing_vendor(account)
    start, end = month_bounds(bill.year, bill.month)
    plan, plan_name, effective_from = _plan_info(vendor, bill.year, bill.month)
    usage = hourly_usage(account, start, end)
    frozen: dict[str, int] = defaultdict(int)
    for line in bill.lines:
        if line["kind"] in USAGE_KINDS:
            frozen[line["api"]] += line["calls"]
    known = plans.priced_apis(plan)
    late = {
        api: calls - frozen.get(api, 0)
        for api, calls in sorted(_calls_by_api(usage).items())
        if api in known and calls != frozen.get(api, 0)
    }
    adjustments = tuple(
        adjustment_to_dict(a)
        for a in bill.adjustments.select_related("created_by").order_by("created_at", "id")
    )
    adjusted = sum((Decimal(a["amount"]) for a in adjustments), ZERO)
    return BillView(
        account_id=account.pk,
        account=account.name,
        vendor=vendor,
        year=bill.year,
        month=bill.month,
        status=BillStatus.FINAL.value,
        lines=tuple(bill.lines),
        lines_total=bill.total,
        adjustments=adjustments,
        total=bill.total + adjusted,
        plan_name=plan_name,
        plan_effective_from=effective_from,
        computed_at=bill.computed_at or bill.finalized_at,
        finalized_at=bill.finalized_at,
        finalized_by=bill.finalized_by.get_username() if bill.finalized_by else None,
        late_calls=late,
        unpriced_calls=_unpriced(plan, usage),
    )


def current_bill(account, year: int, month: int) -> BillView:
    """The month's bill: the stored one if final, otherwise computed now."""
    month_bounds(year, month)
    plans.billing_vendor(account)
    bill = (
        Bill.objects.select_related("finalized_by")
        .filter(account=account, year=year, month=month, status=BillStatus.FINAL)
        .first()
    )
    if bill is not None:
        return _final_view(account, bill)
    return _draft(account, year, month)[0]


def finalize(account, year: int, month: int, user=None) -> BillView:
    """Freeze a month that has ended: its lines, total and closing carried state. Refused
    for a month not over yet, and for a month already final."""
    from monitoring.models import VendorAccount

    _start, end = month_bounds(year, month)
    plans.billing_vendor(account)
    if timezone.now() < end:
        raise PricingError(
            f"{year:04d}-{month:02d} has not ended yet: only a past month can be finalized."
        )
    with transaction.atomic():
        # One finalization of an account at a time.
        VendorAccount.objects.select_for_update().filter(pk=account.pk).first()
        existing = Bill.objects.filter(account=account, year=year, month=month).first()
        if existing is not None and existing.status == BillStatus.FINAL:
            raise PricingError(
                f"The bill of {account.name} for {year:04d}-{month:02d} is already final; "
                "correct it with an adjustment."
            )
        view, _carried, _usage = _draft(account, year, month)
        now = timezone.now()
        values = {
            "status": BillStatus.FINAL,
            "lines": [dict(line) for line in view.lines],
            "total": view.lines_total,
            "closing": pricing.carry_to_dict(view.month_bill.closing),
            "computed_at": view.computed_at,
            "finalized_at": now,
            "finalized_by": user if getattr(user, "pk", None) else None,
        }
        if existing is None:
            Bill.objects.create(account=account, year=year, month=month, **values)
        else:
            for name, value in values.items():
                setattr(existing, name, value)
            existing.save()
    return current_bill(account, year, month)


def parse_amount(value: Any, what: str = "amount", *, allow_negative: bool = False) -> Decimal:
    """A CNY amount with at most two decimals, or ``PricingError``."""
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise PricingError(
            f"The {what} must be a number of CNY, like 100.00, not {value!r}."
        ) from None
    if not amount.is_finite():
        raise PricingError(f"The {what} must be a number of CNY, not {value!r}.")
    if amount != amount.quantize(CENT):
        raise PricingError(f"The {what} has more than two decimals: {value}.")
    if not allow_negative and amount <= 0:
        raise PricingError(f"The {what} must be more than zero, not {value}.")
    if abs(amount) >= Decimal("1e12"):
        raise PricingError(f"The {what} is too large: {value}.")
    return amount.quantize(CENT)


def add_adjustment(bill, api: str, amount, note: str, user=None) -> BillAdjustment:
    """Add a correction line (positive: owed more; negative: a credit) to a final bill.
    ``bill`` is a ``Bill`` or a final ``BillView``."""
    if isinstance(bill, BillView):
        bill = Bill.objects.filter(
            account_id=bill.account_id, year=bill.year, month=bill.month
        ).first()
    if bill is None or bill.status != BillStatus.FINAL:
        raise PricingError("Only a final bill takes adjustments: finalize the month first.")
    value = parse_amount(amount, "adjustment", allow_negative=True)
    if value == 0:
        raise PricingError("An adjustment of zero changes nothing.")
    note = (note or "").strip()
    if not note:
        raise PricingError("Say why: an adjustment needs a note.")
    api = (api or "").strip()
    if api:
        vendor = plans.billing_vendor(bill.account)
        if api not in plans.known_apis(vendor):
            raise PricingError(f"Unknown API {api!r} for a {vendor} account.")
    return BillAdjustment.objects.create(
        bill=bill,
        api=api,
        amount=value,
        note=note[:300],
        created_by=user if getattr(user, "pk", None) else None,
    )


# --- usage series and projection --------------------------------------------------------------


def daily_usage(account, year: int, month: int) -> list[dict[str, Any]]:
    """Calls per API per Shanghai day of the month: successes, vendor errors and both."""
    start, end = month_bounds(year, month)
    days: dict[tuple[date, str], list[int]] = {}
    for row in hourly_usage(account, start, end):
        key = (shanghai_day(row.hour_start), row.api)
        counts = days.setdefault(key, [0, 0])
        counts[0] += row.success
        counts[1] += row.failed
    return [
        {
            "day": day.isoformat(),
            "api": api,
            "success": success,
            "failed": failed,
            "calls": success + failed,
        }
        for (day, api), (success, failed) in sorted(days.items())
    ]


@dataclass(frozen=True)
class Projection:
    """The month's cost so far and projected to its end (see ``project_month``)."""

    year: int
    month: int
    as_of: datetime
    elapsed_fraction: float
    total_so_far: Decimal
    projected_total: Decimal
    calls_so_far: dict[str, int]
    projected_calls: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "month": f"{self.year:04d}-{self.month:02d}",
            "as_of": _iso(self.as_of),
            "elapsed_fraction": round(self.elapsed_fraction, 6),
            "total_so_far": _two(self.total_so_far),
            "projected_total": _two(self.projected_total),
            "calls_so_far": dict(self.calls_so_far),
            "projected_calls": dict(self.projected_calls),
        }


def _spread(total: int, hours: Sequence[datetime]) -> list[int]:
    if not hours:
        return []
    each, extra = divmod(total, len(hours))
    return [each + (1 if index < extra else 0) for index in range(len(hours))]


def project_month(account, year: int, month: int, now: datetime | None = None) -> Projection:
    """The month's cost projected to its end, linearly.

    Each API is assumed to keep the average rate of the month so far (calls so far divided
    by the time elapsed, at least one hour) until the month ends; those projected calls are
    spread evenly over the remaining hours and priced with the same rules as the bill (free
    quota and packages first, then the graduated tiers, QPS orders covering their hours),
    so the projection crosses tiers the way the real month would. Purchases not made yet
    are not assumed. A month that has ended projects to its bill.
    """
    now = now or timezone.now()
    start, end = month_bounds(year, month)
    if now >= end or now < start:
        view = current_bill(account, year, month)
        calls = _calls_by_api(hourly_usage(account, start, end)) if now >= end else {}
        return Projection(
            year,
            month,
            now,
            1.0 if now >= end else 0.0,
            view.total,
            view.total,
            calls,
            dict(calls),
        )
    view, _carried, usage = _draft(account, year, month)
    so_far = _calls_by_api(usage)
    elapsed = max(now - start, HOUR)
    fraction = min(elapsed / (end - start), 1.0)
    first_hour = utc_hour_start(now)
    hours = []
    moment = first_hour
    while moment < end:
        hours.append(moment)
        moment += HOUR
    success_by_api: dict[str, int] = defaultdict(int)
    for row in usage:
        success_by_api[row.api] += row.success
    extra: list[HourlyUsage] = []
    projected: dict[str, int] = {}
    for api, calls in so_far.items():
        target = round(calls / fraction)
        projected[api] = target
        more = max(target - calls, 0)
        more_success = round(more * success_by_api[api] / calls) if calls else 0
        for hour, success, total in zip(
            hours, _spread(more_success, hours), _spread(more, hours), strict=True
        ):
            if total:
                extra.append(HourlyUsage(hour, api, success, total - success))
    projected_view = _draft(account, year, month, extra)[0] if extra else view
    return Projection(
        year,
        month,
        now,
        fraction,
        view.total,
        projected_view.total,
        dict(sorted(so_far.items())),
        dict(sorted(projected.items())),
    )
