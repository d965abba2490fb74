"""CTYun Safety Production (seed ``3 计费说明`` and ``5.1 计费类``): the quota state of an
API, whether a call may be made, the hour-by-hour allocation and the month's bill.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

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
    aware,
    in_force,
    month_bounds,
    shanghai_year,
)
from billing.pricing.holdings import (
    CountPackage,
    FreeQuota,
    HourlyUsage,
    PackageBalance,
    PackageDeduction,
)
from billing.pricing.money import NO_CHARGE, PricingError
from billing.pricing.plans import CtyunPlan


@dataclass(frozen=True, slots=True)
class FreeQuotaBalance:
    """A free quota and the calls left in it."""

    quota: FreeQuota
    remaining: int


@dataclass(frozen=True)
class CtyunQuotaState:
    """What one CTYun API has left. ``metered=False`` for abilities free for a limited time."""

    api: str
    packages: tuple[PackageBalance, ...] = ()
    free_quotas: tuple[FreeQuotaBalance, ...] = ()
    metered: bool = True


def _ctyun_package_order(package: CountPackage) -> tuple:
    # "按照次数包下单顺序抵扣额度"; packages of one order: smallest first, as Baidu does.
    return (package.purchased_at, package.calls, package.id)


def _ctyun_consume(
    calls: int,
    ordered: Sequence[CountPackage],
    package_left: dict[str, int],
    quotas: Sequence[FreeQuota],
    free_left: dict[str, int],
    at: datetime,
) -> tuple[int, list[PackageDeduction], int]:
    """Take ``calls`` in the seed's order; returns (free quota used, deductions, refused).

    ``5.1 计费类`` (调用量的扣费顺序是？): "购买次数包后，按照次数包下单顺序抵扣额度。
    领取免费额度后，当前单个付费次数包使用完毕后，优先抵扣领取的免费额度，免费额度耗尽后，
    按次数包中按照购买时间顺序由早至晚扣除相应次数。"
    The current package is the one already started (partly used): it is finished first, then
    the free quota, then the untouched packages oldest first. With no package started, the free
    quota comes first.
    """
    live = [
        p for p in ordered if package_left[p.id] > 0 and in_force(p.purchased_at, p.expires_at, at)
    ]
    current = next((p for p in live if package_left[p.id] < p.calls), None)
    quota = next(
        (q for q in quotas if free_left[q.id] > 0 and in_force(q.claimed_at, q.expires_at, at)),
        None,
    )
    free_used = 0
    deductions: list[PackageDeduction] = []
    sequence: list[CountPackage | FreeQuota] = [current] if current else []
    if quota is not None:
        sequence.append(quota)
    sequence.extend(p for p in live if p is not current)
    for source in sequence:
        if calls == 0:
            break
        if isinstance(source, FreeQuota):
            taken = min(free_left[source.id], calls)
            free_left[source.id] -= taken
            free_used += taken
        else:
            taken = min(package_left[source.id], calls)
            package_left[source.id] -= taken
            deductions.append(PackageDeduction(source.id, taken))
        calls -= taken
    return free_used, deductions, calls


def ctyun_can_call(state: CtyunQuotaState, *, at: datetime) -> bool:
    """Whether one more call of this API may be made at ``at``."""
    aware(at, "call time")
    if not state.metered:
        return True
    return any(
        b.remaining > 0 and in_force(b.package.purchased_at, b.package.expires_at, at)
        for b in state.packages
    ) or any(
        b.remaining > 0 and in_force(b.quota.claimed_at, b.quota.expires_at, at)
        for b in state.free_quotas
    )


def _check_ctyun_claims(free_quotas: Sequence[FreeQuota]) -> None:
    seen: set[tuple[str, int]] = set()
    for quota in free_quotas:
        key = (quota.api, shanghai_year(quota.claimed_at))
        if key in seen:
            raise PricingError(
                f"The {quota.api} free quota was claimed twice in {key[1]}: once a year."
            )
        seen.add(key)


def ctyun_quota_state(
    plan: CtyunPlan,
    api: str,
    *,
    packages: Sequence[CountPackage] = (),
    free_quotas: Sequence[FreeQuota] = (),
    carried: Carry | None = None,
) -> CtyunQuotaState:
    """One API's quota state from its purchases, claims and what ``carried`` says was used."""
    if not plan.is_metered(api):
        return CtyunQuotaState(api=api, metered=False)
    package_used = carried.package_used if carried else {}
    free_used = carried.free_used if carried else {}
    return CtyunQuotaState(
        api=api,
        packages=tuple(
            PackageBalance(p, p.calls - package_used.get(p.id, 0))
            for p in sorted(packages, key=_ctyun_package_order)
            if p.api == api
        ),
        free_quotas=tuple(
            FreeQuotaBalance(q, q.calls - free_used.get(q.id, 0))
            for q in sorted(free_quotas, key=lambda q: (q.claimed_at, q.id))
            if q.api == api
        ),
    )


@dataclass(frozen=True, slots=True)
class CtyunHourAllocation:
    """Where one hour's successful calls of one CTYun API went."""

    hour_start: datetime
    api: str
    success: int
    failed: int
    free: int
    packages: tuple[PackageDeduction, ...]
    unmetered: int
    over_quota: int


def ctyun_allocate_hours(
    usage: Iterable[HourlyUsage],
    *,
    plan: CtyunPlan,
    until: datetime,
    free_quotas: Sequence[FreeQuota] = (),
    packages: Sequence[CountPackage] = (),
    carried: Carry | None = None,
) -> tuple[tuple[CtyunHourAllocation, ...], Carry]:
    """Allocate each hour's successful calls in time order; the state at ``until`` too.

    The same replay contract as ``baidu_allocate_hours``. Successes beyond every package and
    free quota are reported as ``over_quota`` (the vendor refuses such calls, so a non-zero
    count means the metering missed a refusal).
    """
    start = replay_start(carried, until, plan, free_quotas, packages)
    _check_ctyun_claims(free_quotas)
    packages_by_api = by_api(packages, _ctyun_package_order)
    quotas_by_api = by_api(free_quotas, lambda q: (q.claimed_at, q.id))
    package_used = carried.package_used if carried else {}
    free_used = carried.free_used if carried else {}
    package_left = calls_left(packages, package_used)
    free_left = calls_left(free_quotas, free_used)
    metered: dict[str, bool] = {}

    allocations: list[CtyunHourAllocation] = []
    for hour, api, success, failed in merged_hours(usage, start, until):
        if api not in metered:
            metered[api] = plan.is_metered(api)
        if not metered[api]:
            allocations.append(CtyunHourAllocation(hour, api, success, failed, 0, (), success, 0))
            continue
        free, deductions, over = _ctyun_consume(
            success,
            packages_by_api.get(api, ()),
            package_left,
            quotas_by_api.get(api, ()),
            free_left,
            hour + HOUR_LAST_INSTANT,
        )
        allocations.append(
            CtyunHourAllocation(hour, api, success, failed, free, tuple(deductions), 0, over)
        )

    closing = Carry(
        as_of=until,
        free_used=calls_used(free_quotas, free_left),
        package_used=calls_used(packages, package_left),
    )
    return tuple(allocations), closing


def ctyun_month_bill(
    year: int,
    month: int,
    usage: Iterable[HourlyUsage],
    *,
    plan: CtyunPlan,
    free_quotas: Sequence[FreeQuota] = (),
    packages: Sequence[CountPackage] = (),
    carried: Carry | None = None,
) -> MonthBill:
    """One CTYun account's bill for a natural Shanghai month: per API ``free``, ``package``
    (one per package), ``limited_time_free``, ``not_billed`` (failures), ``over_quota``; then
    the month's ``package_purchase`` lines at the price paid. Same replay contract as
    ``baidu_month_bill``."""
    start, end = month_bounds(year, month)
    check_opening(carried, start)
    allocations, closing = ctyun_allocate_hours(
        usage, plan=plan, until=end, free_quotas=free_quotas, packages=packages, carried=carried
    )
    counts = ("free", "unmetered", "failed", "over_quota")
    totals, package_calls = month_sums(allocations, start, counts)

    package_rank = {p.id: rank for rank, p in enumerate(sorted(packages, key=_ctyun_package_order))}
    lines: list[BillLine] = []
    for api in [a.api for a in plan.apis] + list(plan.limited_time_free_apis):
        if api not in totals:
            continue
        free, unmetered, failed, over = totals[api]
        if free:
            lines.append(BillLine(api, LineKind.FREE, free, NO_CHARGE, note="Yearly free quota"))
        lines += package_lines(api, package_calls.get(api, {}), package_rank, "Package")
        if unmetered:
            lines.append(
                BillLine(
                    api,
                    LineKind.LIMITED_TIME_FREE,
                    unmetered,
                    NO_CHARGE,
                    note="Free for a limited time",
                )
            )
        if failed:
            lines.append(
                BillLine(
                    api, LineKind.NOT_BILLED, failed, NO_CHARGE, note="Failed calls, not counted"
                )
            )
        if over:
            lines.append(
                BillLine(
                    api,
                    LineKind.OVER_QUOTA,
                    over,
                    NO_CHARGE,
                    note="Successes beyond every package and free quota",
                )
            )
    lines.extend(purchase_lines(packages, start, end))
    return month_bill("ctyun", year, month, start, end, lines, closing)
