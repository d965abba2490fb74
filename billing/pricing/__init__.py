"""Vendor pricing: the pure money-and-counts core of billing (no ORM, no clock, no I/O).

This package owns the vendors' own billing rules, applied to plain data:

* price plans as frozen dataclasses (``BaiduPlan``, ``CtyunPlan``), the seeds' numbers in
  ``DEFAULT_PLANS``, and ``plan_to_dict`` / ``plan_from_dict`` for JSON storage;
* Baidu Body Analysis (seed ``产品价格``): graduated pay-as-you-go tiers per 1,000 calls,
  the one-off free trial quota, count packages deducted hourly, QPS orders;
* CTYun Safety Production (seed ``3 计费说明`` and ``5.1 计费类``): capped packages, the
  yearly free quota, the consumption order, and refusal when nothing is left;
* monthly bills built from hourly usage rollups, with a carried state so any month can be
  computed exactly without replaying history;
* the arrears forecast behind the balance reminders (``余额不足提醒``, ``欠费处理``).

Money is ``Decimal`` in CNY and is rounded ROUND_HALF_UP to 0.01 once per bill line, never
per tier, per hour or per call; every intermediate amount is exact. Counts are ``int``.
Months and days are natural ones in Asia/Shanghai. Datetimes must be timezone-aware.

Hourly rollups are settled at the end of their hour, the way Baidu deducts packages "每小时"
and checks the balance "整点": a time-limited resource (free quota, package, QPS order) serves
an hour's calls when it is in force at the hour's last instant, that is when it was acquired
before the hour ended and expires at or after the hour's end. A resource lasting a whole
number of hours therefore serves exactly that many hours.

Anything the rules refuse raises ``PricingError`` with a reason finance can read.

Modules: ``money`` (errors, rounding, graduated tiers), ``calendar`` (Shanghai months, days and
hours: the one home of billing's time helpers), ``plans`` (price plans as data), ``holdings``
(usage, free quotas and claims, packages, QPS orders), ``bills`` (lines, carried state, month
bills), ``baidu`` and ``ctyun`` (each vendor's allocation and month bill), ``arrears``. The
package re-exports their public names, so ``from billing.pricing import X`` keeps working.
"""

from billing.pricing.arrears import (
    REMINDER_DAYS,
    ArrearsForecast,
    Charge,
    forecast_arrears,
    is_in_arrears,
)
from billing.pricing.baidu import (
    BaiduHourAllocation,
    baidu_allocate_hours,
    baidu_hour_charge,
    baidu_month_bill,
    baidu_qps_order,
    qps_bought_today,
    qps_order_price,
    validate_qps_order,
)
from billing.pricing.bills import (
    BillLine,
    Carry,
    LineKind,
    MonthBill,
    carry_from_dict,
    carry_to_dict,
)
from billing.pricing.calendar import (
    HOUR,
    HOUR_LAST_INSTANT,
    SHANGHAI,
    Month,
    add_months,
    aware,
    days_in_month,
    hour_settled_at,
    in_force,
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
    shift_month,
    utc_hour_start,
)
from billing.pricing.ctyun import (
    CtyunHourAllocation,
    CtyunQuotaState,
    FreeQuotaBalance,
    ctyun_allocate_hours,
    ctyun_can_call,
    ctyun_month_bill,
    ctyun_quota_state,
)
from billing.pricing.holdings import (
    CountPackage,
    FreeClaim,
    FreeQuota,
    HourlyUsage,
    PackageBalance,
    PackageDeduction,
    QpsOrder,
    baidu_count_package,
    baidu_free_quota,
    claimed_free_quotas,
    ctyun_free_quota,
    ctyun_package,
)
from billing.pricing.money import (
    CENT,
    NO_CHARGE,
    ZERO,
    PricingError,
    Tier,
    TierBreakdown,
    TierRow,
    graduated_amount,
    graduated_increment,
    round_line,
)
from billing.pricing.plans import (
    BAIDU_DEFAULT_PLAN,
    BAIDU_PLAN_NAME,
    CERTIFICATIONS,
    CTYUN_DEFAULT_PLAN,
    CTYUN_PLAN_NAME,
    DEFAULT_PLANS,
    FAILED_CALLS_NEVER_BILLED,
    BaiduApiPlan,
    BaiduPlan,
    Certification,
    CtyunApiPlan,
    CtyunPlan,
    PackageSpec,
    QpsTier,
    plan_from_dict,
    plan_to_dict,
)

__all__ = [
    "BAIDU_DEFAULT_PLAN",
    "BAIDU_PLAN_NAME",
    "CENT",
    "CERTIFICATIONS",
    "CTYUN_DEFAULT_PLAN",
    "CTYUN_PLAN_NAME",
    "DEFAULT_PLANS",
    "FAILED_CALLS_NEVER_BILLED",
    "HOUR",
    "HOUR_LAST_INSTANT",
    "NO_CHARGE",
    "REMINDER_DAYS",
    "SHANGHAI",
    "ZERO",
    "ArrearsForecast",
    "BaiduApiPlan",
    "BaiduHourAllocation",
    "BaiduPlan",
    "BillLine",
    "Carry",
    "Certification",
    "Charge",
    "CountPackage",
    "CtyunApiPlan",
    "CtyunHourAllocation",
    "CtyunPlan",
    "CtyunQuotaState",
    "FreeClaim",
    "FreeQuota",
    "FreeQuotaBalance",
    "HourlyUsage",
    "LineKind",
    "Month",
    "MonthBill",
    "PackageBalance",
    "PackageDeduction",
    "PackageSpec",
    "PricingError",
    "QpsOrder",
    "QpsTier",
    "Tier",
    "TierBreakdown",
    "TierRow",
    "add_months",
    "aware",
    "baidu_allocate_hours",
    "baidu_count_package",
    "baidu_free_quota",
    "baidu_hour_charge",
    "baidu_month_bill",
    "baidu_qps_order",
    "carry_from_dict",
    "carry_to_dict",
    "claimed_free_quotas",
    "ctyun_allocate_hours",
    "ctyun_can_call",
    "ctyun_free_quota",
    "ctyun_month_bill",
    "ctyun_package",
    "ctyun_quota_state",
    "days_in_month",
    "forecast_arrears",
    "graduated_amount",
    "graduated_increment",
    "hour_settled_at",
    "in_force",
    "is_in_arrears",
    "month_bounds",
    "month_of",
    "month_text",
    "months_between",
    "next_month",
    "parse_month",
    "plan_from_dict",
    "plan_to_dict",
    "qps_bought_today",
    "qps_order_price",
    "round_line",
    "shanghai_day",
    "shanghai_minute",
    "shanghai_month",
    "shanghai_text",
    "shift_month",
    "utc_hour_start",
    "validate_qps_order",
]
