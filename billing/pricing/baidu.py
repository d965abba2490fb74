"""Baidu Body Analysis (seed ``产品价格``): QPS orders (``3. 按QPS购买``), the hour-by-hour
allocation of calls to QPS orders, the free quota, packages and pay-as-you-go, and the
month's bill.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from billing.pricing.bills import (
    BillLine,
    Carry,
    LineKind,
    MonthBill,
    by_api,
    calls_left,
    calls_used,
    check_opening,
    merged_hours,
    month_bill,
    month_sums,
    package_lines,
    purchase_lines,
    replay_start,
)
from billing.pricing.calendar import (
    HOUR_LAST_INSTANT,
    add_months,
    aware,
    in_force,
    month_bounds,
    month_of,
    shanghai_day,
)
from billing.pricing.holdings import (
    CountPackage,
    FreeQuota,
    HourlyUsage,
    PackageDeduction,
    QpsOrder,
    baidu_package_order,
    deduct_in_order,
    one_claim_per_api,
)
from billing.pricing.money import (
    NO_CHARGE,
    ZERO,
    PricingError,
    check_count,
    graduated_amount,
    graduated_increment,
    round_line,
)
from billing.pricing.plans import BAIDU_DEFAULT_PLAN, BaiduPlan, QpsTier, check_qps_tiers

# --- QPS orders (`3. 按QPS购买`) -------------------------------------------------------------


def qps_order_price(qps: int, months: int, days: int, tiers: Sequence[QpsTier]) -> Decimal:
    """The price of one QPS order, rounded to the cent.

    The QPS of one order are priced per tier ("阶梯价格梯度按照单次购买的数量计算，不同订单不
    累计"), then times the months at the monthly price plus the days at the daily price
    (示例二: 500 x 2 + 50 x 5 x 2 = 1500).
    """
    _check_period(qps, months, days)
    check_qps_tiers(tiers)
    per_month = per_day = ZERO
    lower = 0
    for tier in tiers:
        upper = qps if tier.upper is None else min(qps, tier.upper)
        if upper > lower:
            per_month += tier.per_month * (upper - lower)
            per_day += tier.per_day * (upper - lower)
        if tier.upper is None or tier.upper >= qps:
            break
        lower = tier.upper
    return round_line(per_month * months + per_day * days)


def _check_period(qps: int, months: int, days: int) -> None:
    if check_count(qps, "number of QPS") == 0:
        raise PricingError("A QPS order needs at least 1 QPS.")
    if check_count(months, "number of months") + check_count(days, "number of days") == 0:
        raise PricingError("A QPS order needs at least one month or one day.")


def validate_qps_order(
    api: str,
    qps: int,
    months: int,
    days: int,
    bought_today: int,
    *,
    plan: BaiduPlan = BAIDU_DEFAULT_PLAN,
) -> None:
    """Refuse a QPS order the console would refuse; return None when it may be placed.

    Only the APIs listed under ``3. 按QPS购买`` sell QPS, and "单个接口一天的QPS资源购买上限为50":
    ``bought_today`` is the QPS already bought for this API on the same Shanghai day
    (see ``qps_bought_today``).
    """
    api_plan = plan.api(api)
    if not api_plan.qps_purchasable:
        raise PricingError(
            f"QPS cannot be bought for {api}; Baidu sends larger needs for it to a support ticket."
        )
    _check_period(qps, months, days)
    limit = plan.qps_daily_limit
    if check_count(bought_today, "QPS bought today") + qps > limit:
        raise PricingError(
            f"At most {limit} QPS of {api} may be bought per day: {bought_today} QPS were "
            f"bought today, so {qps} more would make {bought_today + qps}."
        )


def qps_bought_today(orders: Iterable[QpsOrder], api: str, at: datetime) -> int:
    """The QPS of ``api`` bought on the Shanghai day of ``at``."""
    today = shanghai_day(at)
    return sum(o.qps for o in orders if o.api == api and shanghai_day(o.purchased_at) == today)


def baidu_qps_order(
    plan: BaiduPlan,
    order_id: str,
    api: str,
    qps: int,
    months: int,
    days: int,
    purchased_at: datetime,
    *,
    bought_today: int,
) -> QpsOrder:
    """A validated, priced QPS order, in force from purchase for ``months`` then ``days``."""
    aware(purchased_at, "purchase time")
    validate_qps_order(api, qps, months, days, bought_today, plan=plan)
    price = qps_order_price(qps, months, days, plan.qps_tiers)
    expires_at = add_months(purchased_at, months) + timedelta(days=days)
    return QpsOrder(order_id, api, qps, months, days, price, purchased_at, expires_at)


# --- Baidu: hour by hour, then the month --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BaiduHourAllocation:
    """Where one hour's calls of one API went. ``payg_before`` is the month's pay-as-you-go
    count before this hour, so ``graduated_increment(payg_before, payg, tiers)`` prices it."""

    hour_start: datetime
    api: str
    success: int
    failed: int
    free: int
    packages: tuple[PackageDeduction, ...]
    qps: int
    not_billed: int
    payg: int
    payg_before: int


def baidu_hour_charge(allocation: BaiduHourAllocation, plan: BaiduPlan) -> Decimal:
    """The exact (unrounded) pay-as-you-go charge of one allocated hour."""
    tiers = plan.api(allocation.api).payg_tiers
    return graduated_increment(allocation.payg_before, allocation.payg, tiers).exact_amount


def baidu_allocate_hours(
    usage: Iterable[HourlyUsage],
    *,
    plan: BaiduPlan,
    until: datetime,
    free_quotas: Sequence[FreeQuota] = (),
    packages: Sequence[CountPackage] = (),
    qps_orders: Sequence[QpsOrder] = (),
    carried: Carry | None = None,
) -> tuple[tuple[BaiduHourAllocation, ...], Carry]:
    """Allocate each hour's calls, in time order, and return the state at ``until``.

    Replays the hours from ``carried.as_of`` (or from the first row when nothing is carried)
    up to ``until``; rows outside that span are ignored. Without a carried state, pass every
    row since the earliest claim or purchase still in force.

    For each hour and API:
    * while a QPS order is active, every call is covered by it ("购买QPS后...调用量无限制")
      and the free quota is left alone;
    * otherwise the free quota takes successful and failed calls alike ("成功调用与失败调用均
      消耗免费测试量"), successes first within the hour;
    * what is left and billable (successes, plus failures where the plan bills them) is
      deducted from count packages, and the rest is pay-as-you-go, counted toward the month's
      tiers ("“调用量”指使用按量后付费形式产生的计费调用量").
    """
    start = replay_start(carried, until, plan, free_quotas, packages, *qps_orders)
    api_plans = {a.api: a for a in plan.apis}
    free_by_api = one_claim_per_api(free_quotas)
    packages_by_api = by_api(packages, baidu_package_order)
    orders_by_api = by_api(qps_orders, lambda o: (o.purchased_at, o.id))

    free_used = dict(carried.free_used) if carried else {}
    package_used = dict(carried.package_used) if carried else {}
    payg_month = dict(carried.payg_month_to_date) if carried else {}
    package_left = calls_left(packages, package_used)
    month_cache: dict[datetime, tuple[int, int]] = {}
    current_month = month_of(start) if start is not None else None

    allocations: list[BaiduHourAllocation] = []
    for hour, api, success, failed in merged_hours(usage, start, until):
        api_plan = api_plans.get(api)
        if api_plan is None:
            plan.api(api)
        month = month_cache.get(hour)
        if month is None:
            month = month_cache[hour] = month_of(hour)
        if month != current_month:
            # "月初，上月累积的调用量清零，重新开始累积本月调用量"
            payg_month, current_month = {}, month
        at = hour + HOUR_LAST_INSTANT
        total = success + failed
        payg_before = payg_month.get(api, 0)

        orders = orders_by_api.get(api)
        if orders and any(in_force(o.purchased_at, o.expires_at, at) for o in orders):
            allocations.append(
                BaiduHourAllocation(hour, api, success, failed, 0, (), total, 0, 0, payg_before)
            )
            continue

        free = 0
        quota = free_by_api.get(api)
        if quota is not None and in_force(quota.claimed_at, quota.expires_at, at):
            free = min(quota.calls - free_used.get(quota.id, 0), total)
            if free > 0:
                free_used[quota.id] = free_used.get(quota.id, 0) + free
            else:
                free = 0
        billable = total - free if api_plan.bill_failed_calls else max(0, success - free)
        not_billed = total - free - billable

        deductions: list[PackageDeduction] = []
        payg = billable
        api_packages = packages_by_api.get(api)
        if api_packages and billable:
            deductions, payg = deduct_in_order(api_packages, package_left, billable, at)
        if payg:
            payg_month[api] = payg_before + payg
        allocations.append(
            BaiduHourAllocation(
                hour,
                api,
                success,
                failed,
                free,
                tuple(deductions),
                0,
                not_billed,
                payg,
                payg_before,
            )
        )

    if current_month != month_of(until):
        payg_month = {}
    closing = Carry(
        as_of=until,
        free_used=free_used,
        package_used=calls_used(packages, package_left),
        payg_month_to_date=payg_month,
    )
    return tuple(allocations), closing


def baidu_month_bill(
    year: int,
    month: int,
    usage: Iterable[HourlyUsage],
    *,
    plan: BaiduPlan,
    free_quotas: Sequence[FreeQuota] = (),
    packages: Sequence[CountPackage] = (),
    qps_orders: Sequence[QpsOrder] = (),
    carried: Carry | None = None,
) -> MonthBill:
    """One Baidu account's bill for a natural Shanghai month.

    ``usage`` holds the hourly rollups from ``carried.as_of`` (at or before the month's
    start), or, with nothing carried, from the earliest claim or purchase still in force, so
    free quota and packages are consumed in time order across months. Lines per API: ``free``,
    ``package`` (one per package), ``qps_usage``, ``not_billed``, ``payg`` (with its tier
    rows); then the month's ``package_purchase`` and ``qps_order`` lines. ``closing`` is the
    state at the month's end, to carry into the next month.
    """
    start, end = month_bounds(year, month)
    check_opening(carried, start)
    allocations, closing = baidu_allocate_hours(
        usage,
        plan=plan,
        until=end,
        free_quotas=free_quotas,
        packages=packages,
        qps_orders=qps_orders,
        carried=carried,
    )
    totals, package_calls = month_sums(allocations, start, ("free", "qps", "not_billed", "payg"))

    package_rank = {p.id: rank for rank, p in enumerate(sorted(packages, key=baidu_package_order))}
    lines: list[BillLine] = []
    for api_plan in plan.apis:
        api = api_plan.api
        if api not in totals:
            continue
        free, qps, not_billed, payg = totals[api]
        if free:
            lines.append(BillLine(api, LineKind.FREE, free, NO_CHARGE, note="Free trial quota"))
        lines += package_lines(api, package_calls.get(api, {}), package_rank, "Count package")
        if qps:
            lines.append(
                BillLine(api, LineKind.QPS_USAGE, qps, NO_CHARGE, note="Covered by a QPS order")
            )
        if not_billed:
            lines.append(
                BillLine(
                    api,
                    LineKind.NOT_BILLED,
                    not_billed,
                    NO_CHARGE,
                    note="Failed calls, not billed",
                )
            )
        if payg:
            breakdown = graduated_amount(payg, api_plan.payg_tiers)
            lines.append(
                BillLine(
                    api,
                    LineKind.PAYG,
                    payg,
                    breakdown.amount,
                    tiers=breakdown.rows,
                    note="Pay-as-you-go, graduated per 1,000 calls",
                )
            )
    lines.extend(purchase_lines(packages, start, end))
    for order in sorted(qps_orders, key=lambda o: (o.purchased_at, o.id)):
        if start <= order.purchased_at < end:
            lines.append(
                BillLine(
                    order.api,
                    LineKind.QPS_ORDER,
                    0,
                    round_line(order.price),
                    reference=order.id,
                    note=f"{order.qps} QPS for {order.months} month(s) and {order.days} day(s)",
                )
            )
    return month_bill("baidu", year, month, start, end, lines, closing)
