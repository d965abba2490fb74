"""Vendor pricing: the pure money-and-counts core of billing (no ORM, no clock, no I/O).

This module owns the vendors' own billing rules, applied to plain data:

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
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Literal
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
CENT = Decimal("0.01")
ZERO = Decimal(0)
NO_CHARGE = Decimal("0.00")
HOUR = timedelta(hours=1)
_HOUR_LAST_INSTANT = HOUR - timedelta(microseconds=1)

Certification = Literal["personal", "enterprise"]


class PricingError(ValueError):
    """A vendor's pricing rules refuse this; the message says why, in plain English."""


def round_line(amount: Decimal) -> Decimal:
    """Round a bill line's exact amount to the cent, half up (done once per line)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _per_thousand(price_per_thousand: Decimal, calls: int) -> Decimal:
    return (price_per_thousand * calls).scaleb(-3)


def _count(value: int, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise PricingError(f"The {what} must be a whole number, not {value!r}.")
    if value < 0:
        raise PricingError(f"The {what} cannot be negative ({value:,}).")
    return value


def _aware(moment: datetime, what: str) -> datetime:
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise PricingError(f"The {what} needs a time zone: {moment!r}.")
    return moment


def _money(value: Any, what: str) -> Decimal:
    if not isinstance(value, Decimal):
        raise PricingError(f"The {what} must be a Decimal amount, not {value!r}.")
    if value < 0:
        raise PricingError(f"The {what} cannot be negative ({value}).")
    return value


# --- time -------------------------------------------------------------------------------------


def add_months(moment: datetime, months: int) -> datetime:
    """The same Shanghai day of the month and time, ``months`` later.

    When the target month is shorter the day becomes its last day (29 February 2024 plus 12
    months is 28 February 2025). This is how "购买后12个月内有效" (``2. 购买次数包``) and
    CTYun's "资源包有效期一年" (``5.1 计费类``) are read: valid until that instant.
    """
    _aware(moment, "start time")
    local = moment.astimezone(SHANGHAI)
    years, month_index = divmod(local.month - 1 + months, 12)
    year, month = local.year + years, month_index + 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day).astimezone(moment.tzinfo)


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    """Start (inclusive) and end (exclusive) of a natural month in Asia/Shanghai."""
    if not 1 <= month <= 12:
        raise PricingError(f"There is no month {month}.")
    start = datetime(year, month, 1, tzinfo=SHANGHAI)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=SHANGHAI)
    return start, end


def shanghai_day(moment: datetime) -> date:
    """The natural day in Asia/Shanghai that ``moment`` falls on."""
    return _aware(moment, "time").astimezone(SHANGHAI).date()


def hour_settled_at(hour_start: datetime) -> datetime:
    """The instant an hourly rollup is settled at: the hour's last microsecond."""
    return hour_start + _HOUR_LAST_INSTANT


def _in_force(acquired_at: datetime, expires_at: datetime, at: datetime) -> bool:
    return acquired_at <= at < expires_at


def _local(moment: datetime) -> str:
    return f"{moment.astimezone(SHANGHAI):%Y-%m-%d %H:%M} (Asia/Shanghai)"


def _month_key(moment: datetime) -> tuple[int, int]:
    local = moment.astimezone(SHANGHAI)
    return local.year, local.month


# --- graduated tiers (`1. 按调用量后付费`) -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tier:
    """A pay-as-you-go tier: the month's cumulative billable calls up to ``upper`` (inclusive;
    ``None`` for the last, open-ended tier) cost ``price_per_thousand`` CNY per 1,000 calls."""

    upper: int | None
    price_per_thousand: Decimal


@dataclass(frozen=True, slots=True)
class TierRow:
    """The calls of one bill line that fall in one tier: ``lower < n <= upper``."""

    lower: int
    upper: int | None
    calls: int
    price_per_thousand: Decimal
    exact_amount: Decimal


@dataclass(frozen=True, slots=True)
class TierBreakdown:
    """A graduated amount: rows per tier (exact), their exact sum, and the line amount
    rounded once."""

    rows: tuple[TierRow, ...]
    calls: int
    exact_amount: Decimal
    amount: Decimal


def _check_tiers(tiers: Sequence[Tier]) -> None:
    if not tiers:
        raise PricingError("A price plan needs at least one tier.")
    lower = 0
    for index, tier in enumerate(tiers):
        last = index == len(tiers) - 1
        if (tier.upper is None) != last:
            raise PricingError("Only the last tier may be open-ended, and it must be.")
        if tier.upper is not None and tier.upper <= lower:
            raise PricingError(f"Tier bounds must rise: {tier.upper:,} follows {lower:,}.")
        _money(tier.price_per_thousand, "price per 1,000 calls")
        lower = tier.upper or lower


def graduated_increment(before: int, added: int, tiers: Sequence[Tier]) -> TierBreakdown:
    """Price calls number ``before + 1`` to ``before + added`` of a month.

    The part above a tier's upper bound is priced at the next tier
    ("超出本阶梯部分按照下一阶梯单价计算", ``1.1 人体关键点识别接口``). Increments over any
    split of a month add up exactly to the month's graduated amount before rounding.
    """
    _count(before, "number of calls already billed")
    _count(added, "number of calls")
    _check_tiers(tiers)
    start, end = before, before + added
    rows: list[TierRow] = []
    lower = 0
    for tier in tiers:
        upper = tier.upper
        low = max(start, lower)
        high = end if upper is None else min(end, upper)
        if high > low:
            price = tier.price_per_thousand
            rows.append(TierRow(lower, upper, high - low, price, _per_thousand(price, high - low)))
        if upper is None or upper >= end:
            break
        lower = upper
    exact = sum((row.exact_amount for row in rows), ZERO)
    return TierBreakdown(
        rows=tuple(rows), calls=added, exact_amount=exact, amount=round_line(exact)
    )


def graduated_amount(calls: int, tiers: Sequence[Tier]) -> TierBreakdown:
    """Price a month's ``calls`` billable pay-as-you-go calls on graduated ``tiers``."""
    return graduated_increment(0, calls, tiers)


# --- price plans as data ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PackageSpec:
    """A package size on sale and its price in CNY."""

    calls: int
    price: Decimal


@dataclass(frozen=True, slots=True)
class QpsTier:
    """QPS bought in one order up to ``upper`` (inclusive; ``None``: no bound) cost
    ``per_month`` per QPS per month and ``per_day`` per QPS per day (``3. 按QPS购买``)."""

    upper: int | None
    per_month: Decimal
    per_day: Decimal


# `1.7 驾驶行为分析接口` and `1.8 手部关键点识别接口`: "调用失败不计费".
FAILED_CALLS_NEVER_BILLED = frozenset({"driver_behavior", "hand_analysis"})
CERTIFICATIONS: tuple[Certification, ...] = ("personal", "enterprise")


@dataclass(frozen=True)
class BaiduApiPlan:
    """One Baidu API's prices and allowances."""

    api: str
    title: str
    payg_tiers: tuple[Tier, ...]
    free_calls_personal: int
    free_calls_enterprise: int
    bill_failed_calls: bool = False
    package_specs: tuple[PackageSpec, ...] = ()
    qps_purchasable: bool = False

    def __post_init__(self) -> None:
        _check_tiers(self.payg_tiers)
        _count(self.free_calls_personal, "personal free quota")
        _count(self.free_calls_enterprise, "enterprise free quota")
        if self.bill_failed_calls and self.api in FAILED_CALLS_NEVER_BILLED:
            raise PricingError(
                f"Baidu never bills failed calls of {self.api} (调用失败不计费); "
                "the plan cannot bill them."
            )
        _check_specs(self.package_specs)

    def free_calls(self, certification: str) -> int:
        if certification == "personal":
            return self.free_calls_personal
        if certification == "enterprise":
            return self.free_calls_enterprise
        raise PricingError(
            f"Unknown certification {certification!r}: Baidu grants free quota to "
            "'personal' or 'enterprise' certified accounts."
        )


def _check_specs(specs: Sequence[PackageSpec]) -> None:
    sizes = [spec.calls for spec in specs]
    if len(set(sizes)) != len(sizes):
        raise PricingError("A package size is listed twice in the plan.")
    for spec in specs:
        if _count(spec.calls, "package size") == 0:
            raise PricingError("A package must hold at least one call.")
        _money(spec.price, "package price")


def _check_qps_tiers(tiers: Sequence[QpsTier]) -> None:
    lower = 0
    for index, tier in enumerate(tiers):
        if (tier.upper is None) != (index == len(tiers) - 1):
            raise PricingError("Only the last QPS tier may be open-ended, and it must be.")
        if tier.upper is not None and tier.upper <= lower:
            raise PricingError(f"QPS tier bounds must rise: {tier.upper} follows {lower}.")
        _money(tier.per_month, "monthly QPS price")
        _money(tier.per_day, "daily QPS price")
        lower = tier.upper or lower


def _replace_api(plan, api: str, changes: dict[str, Any]):
    plan.api(api)
    apis = tuple(replace(a, **changes) if a.api == api else a for a in plan.apis)
    return replace(plan, apis=apis)


@dataclass(frozen=True)
class BaiduPlan:
    """Baidu Body Analysis online API prices (seed ``产品价格``)."""

    name: str
    apis: tuple[BaiduApiPlan, ...]
    qps_tiers: tuple[QpsTier, ...]
    free_quota_days: int = 365
    package_months: int = 12
    qps_daily_limit: int = 50

    def __post_init__(self) -> None:
        names = [a.api for a in self.apis]
        if len(set(names)) != len(names):
            raise PricingError("An API is priced twice in the plan.")
        _check_qps_tiers(self.qps_tiers)

    def api(self, name: str) -> BaiduApiPlan:
        for api_plan in self.apis:
            if api_plan.api == name:
                return api_plan
        raise PricingError(f"The Baidu plan {self.name!r} has no price for the API {name!r}.")

    def replace_api(self, api: str, **changes: Any) -> BaiduPlan:
        """This plan with one API's settings changed (e.g. ``bill_failed_calls=True``)."""
        return _replace_api(self, api, changes)


@dataclass(frozen=True)
class CtyunApiPlan:
    """One CTYun API sold as capped packages, with a yearly free quota."""

    api: str
    title: str
    package_specs: tuple[PackageSpec, ...]
    free_calls_per_year: int = 10_000

    def __post_init__(self) -> None:
        _check_specs(self.package_specs)
        _count(self.free_calls_per_year, "yearly free quota")


@dataclass(frozen=True)
class CtyunPlan:
    """CTYun Safety Production prices (seed ``3 计费说明``)."""

    name: str
    apis: tuple[CtyunApiPlan, ...]
    limited_time_free_apis: tuple[str, ...]
    package_months: int = 12

    def __post_init__(self) -> None:
        names = [a.api for a in self.apis] + list(self.limited_time_free_apis)
        if len(set(names)) != len(names):
            raise PricingError("An API is listed twice in the plan.")

    def api(self, name: str) -> CtyunApiPlan:
        for api_plan in self.apis:
            if api_plan.api == name:
                return api_plan
        if name in self.limited_time_free_apis:
            raise PricingError(f"{name} is free for a limited time: no package or quota applies.")
        raise PricingError(f"The CTYun plan {self.name!r} does not cover the API {name!r}.")

    def is_metered(self, name: str) -> bool:
        if name in self.limited_time_free_apis:
            return False
        self.api(name)
        return True

    def replace_api(self, api: str, **changes: Any) -> CtyunPlan:
        """This plan with one API's settings changed (e.g. new ``package_specs`` prices)."""
        return _replace_api(self, api, changes)


def _tiers(*rows: tuple[int | None, str]) -> tuple[Tier, ...]:
    return tuple(Tier(upper, Decimal(price)) for upper, price in rows)


def _specs(*rows: tuple[int, str]) -> tuple[PackageSpec, ...]:
    return tuple(PackageSpec(calls, Decimal(price)) for calls, price in rows)


# `1.1`-`1.6`: "0<月调用量<=5 (万次) 2.0; 5<..<=30 1.8; 30<..<=100 1.6; 100<..<=300 1.4; 300< 1.0".
_BODY_TIERS = _tiers(
    (50_000, "2.0"), (300_000, "1.8"), (1_000_000, "1.6"), (3_000_000, "1.4"), (None, "1.0")
)
# `1.5 人像分割接口`: the same bounds at 4.0, 3.6, 3.2, 2.8, 2.0.
_SEGMENTATION_TIERS = _tiers(
    (50_000, "4.0"), (300_000, "3.6"), (1_000_000, "3.2"), (3_000_000, "2.8"), (None, "2.0")
)
# `1.7 驾驶行为分析接口`: 0<..<=30 2.0; 30<..<=100 1.6; 100<..<=200 1.2; 200<..<=500 1.0; 500< 0.8.
_DRIVER_TIERS = _tiers(
    (300_000, "2.0"), (1_000_000, "1.6"), (2_000_000, "1.2"), (5_000_000, "1.0"), (None, "0.8")
)
# `1.8 手部关键点识别接口`: "采用单一定价" 6.0.
_HAND_TIERS = _tiers((None, "6.0"))


def _baidu_api(api, title, tiers, personal, enterprise, **rest) -> BaiduApiPlan:
    return BaiduApiPlan(api, title, tiers, personal, enterprise, **rest)


# The plans' names as users read them on bills and exports (the sources are in comments).
BAIDU_PLAN_NAME = "Baidu Body Analysis list prices · 百度人体分析标准价格"
CTYUN_PLAN_NAME = "CTYun Safety Production public beta · 天翼云安全生产公测"

# Free quota per `免费测试资源`; packages per `2. 购买次数包`; QPS per `3. 按QPS购买`.
BAIDU_DEFAULT_PLAN = BaiduPlan(
    name=BAIDU_PLAN_NAME,
    apis=(
        _baidu_api(
            "body_analysis", "人体关键点识别", _BODY_TIERS, 10_000, 50_000, qps_purchasable=True
        ),
        _baidu_api(
            "body_attr", "人体检测与属性识别", _BODY_TIERS, 10_000, 50_000, qps_purchasable=True
        ),
        _baidu_api("body_num", "人流量统计", _BODY_TIERS, 10_000, 50_000, qps_purchasable=True),
        _baidu_api("body_tracking", "人流量统计(动态版)", _BODY_TIERS, 10_000, 50_000),
        _baidu_api(
            "body_seg", "人像分割", _SEGMENTATION_TIERS, 10_000, 50_000, qps_purchasable=True
        ),
        _baidu_api("gesture", "手势识别", _BODY_TIERS, 10_000, 50_000, qps_purchasable=True),
        _baidu_api(
            "driver_behavior",
            "驾驶行为分析",
            _DRIVER_TIERS,
            5_000,
            10_000,
            package_specs=_specs(
                (300_000, "500"),
                (1_000_000, "1200"),
                (2_000_000, "2000"),
                (5_000_000, "4000"),
                (10_000_000, "7000"),
            ),
        ),
        _baidu_api(
            "hand_analysis",
            "手部关键点识别",
            _HAND_TIERS,
            5_000,
            10_000,
            package_specs=_specs(
                (50_000, "275"),
                (100_000, "500"),
                (300_000, "1350"),
                (1_000_000, "4000"),
                (2_000_000, "7000"),
                (5_000_000, "15000"),
            ),
        ),
    ),
    qps_tiers=(
        QpsTier(10, Decimal("500"), Decimal("50")),
        QpsTier(50, Decimal("400"), Decimal("40")),
        QpsTier(100, Decimal("300"), Decimal("30")),
        QpsTier(None, Decimal("200"), Decimal("20")),
    ),
)

# `3.1 计费模式`: five package sizes per API, "公测期间 0 元购买" ("表格价格仅供参考"), and
# "10000 次/年 ... 当年有效，过期作废"; the other abilities are "限时免费 ... 无需购买".
_CTYUN_BETA_SPECS = _specs(
    (100_000, "0"), (400_000, "0"), (800_000, "0"), (4_000_000, "0"), (8_000_000, "0")
)
CTYUN_DEFAULT_PLAN = CtyunPlan(
    name=CTYUN_PLAN_NAME,
    apis=(
        CtyunApiPlan("helmet", "安全帽正确佩戴识别", _CTYUN_BETA_SPECS),
        CtyunApiPlan("workwear", "工作服识别", _CTYUN_BETA_SPECS),
        CtyunApiPlan("fence", "电子围栏", _CTYUN_BETA_SPECS),
    ),
    limited_time_free_apis=(
        "face_quality",
        "liveness_shake",
        "liveness_up",
        "liveness_down",
        "liveness_left",
        "liveness_right",
        "liveness_mouth",
        "liveness_blink",
        "fall",
        "fight",
    ),
)

DEFAULT_PLANS: Mapping[str, BaiduPlan | CtyunPlan] = MappingProxyType(
    {"baidu": BAIDU_DEFAULT_PLAN, "ctyun": CTYUN_DEFAULT_PLAN}
)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    return value


def plan_to_dict(plan: BaiduPlan | CtyunPlan) -> dict[str, Any]:
    """A JSON-safe dict of the plan; amounts become strings so they stay exact."""
    if isinstance(plan, BaiduPlan):
        vendor = "baidu"
    elif isinstance(plan, CtyunPlan):
        vendor = "ctyun"
    else:
        raise PricingError(f"Not a price plan: {plan!r}.")
    return {"vendor": vendor, **_plain(plan)}


def _specs_from(rows: Iterable[Mapping[str, Any]]) -> tuple[PackageSpec, ...]:
    return tuple(PackageSpec(r["calls"], Decimal(r["price"])) for r in rows)


def _baidu_plan_from(data: Mapping[str, Any]) -> BaiduPlan:
    return BaiduPlan(
        name=data["name"],
        apis=tuple(
            BaiduApiPlan(
                api=a["api"],
                title=a["title"],
                payg_tiers=tuple(
                    Tier(t["upper"], Decimal(t["price_per_thousand"])) for t in a["payg_tiers"]
                ),
                free_calls_personal=a["free_calls_personal"],
                free_calls_enterprise=a["free_calls_enterprise"],
                bill_failed_calls=a["bill_failed_calls"],
                package_specs=_specs_from(a["package_specs"]),
                qps_purchasable=a["qps_purchasable"],
            )
            for a in data["apis"]
        ),
        qps_tiers=tuple(
            QpsTier(t["upper"], Decimal(t["per_month"]), Decimal(t["per_day"]))
            for t in data["qps_tiers"]
        ),
        free_quota_days=data["free_quota_days"],
        package_months=data["package_months"],
        qps_daily_limit=data["qps_daily_limit"],
    )


def _ctyun_plan_from(data: Mapping[str, Any]) -> CtyunPlan:
    return CtyunPlan(
        name=data["name"],
        apis=tuple(
            CtyunApiPlan(
                api=a["api"],
                title=a["title"],
                package_specs=_specs_from(a["package_specs"]),
                free_calls_per_year=a["free_calls_per_year"],
            )
            for a in data["apis"]
        ),
        limited_time_free_apis=tuple(data["limited_time_free_apis"]),
        package_months=data["package_months"],
    )


# The stored plan's "vendor" -> how to read the rest.
_PLAN_READERS = {"baidu": _baidu_plan_from, "ctyun": _ctyun_plan_from}


def plan_from_dict(data: Mapping[str, Any]) -> BaiduPlan | CtyunPlan:
    """The plan stored by ``plan_to_dict``."""
    try:
        vendor = data["vendor"]
        reader = _PLAN_READERS.get(vendor)
        if reader is not None:
            return reader(data)
    except (KeyError, TypeError, ArithmeticError) as exc:
        raise PricingError(f"The stored price plan is incomplete or malformed ({exc!r}).") from exc
    raise PricingError(f"Unknown vendor {vendor!r} in the stored price plan.")


# --- what an account holds --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HourlyUsage:
    """One rollup row: the calls of one API in the hour starting at ``hour_start``."""

    hour_start: datetime
    api: str
    success: int
    failed: int = 0


@dataclass(frozen=True, slots=True)
class FreeQuota:
    """A claimed free quota of ``calls``, in force from ``claimed_at`` until ``expires_at``."""

    id: str
    api: str
    calls: int
    claimed_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class CountPackage:
    """A bought count package (Baidu ``次数包``, CTYun ``资源包``) and what was paid for it."""

    id: str
    api: str
    calls: int
    price: Decimal
    purchased_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class QpsOrder:
    """A Baidu QPS order: ``qps`` for ``months`` then ``days``, and what was paid for it."""

    id: str
    api: str
    qps: int
    months: int
    days: int
    price: Decimal
    purchased_at: datetime
    expires_at: datetime


def baidu_free_quota(
    plan: BaiduPlan, quota_id: str, api: str, claimed_at: datetime, certification: str
) -> FreeQuota:
    """The free trial quota granted on claiming it (``免费测试资源``): its size depends on the
    certification, and it is valid 365 days ("领取后即可生效，有效期365天")."""
    _aware(claimed_at, "claim time")
    calls = plan.api(api).free_calls(certification)
    expires_at = claimed_at + timedelta(days=plan.free_quota_days)
    return FreeQuota(quota_id, api, calls, claimed_at, expires_at)


def _package(api_plan, package_months: int, package_id, calls, purchased_at) -> CountPackage:
    _aware(purchased_at, "purchase time")
    if not api_plan.package_specs:
        raise PricingError(f"No count packages are sold for {api_plan.api}.")
    for spec in api_plan.package_specs:
        if spec.calls == calls:
            expires_at = add_months(purchased_at, package_months)
            return CountPackage(
                package_id, api_plan.api, calls, spec.price, purchased_at, expires_at
            )
    sizes = ", ".join(f"{spec.calls:,}" for spec in api_plan.package_specs)
    raise PricingError(
        f"No {calls:,}-call package is sold for {api_plan.api}; the sizes on sale are {sizes}."
    )


def baidu_count_package(
    plan: BaiduPlan, package_id: str, api: str, calls: int, purchased_at: datetime
) -> CountPackage:
    """A Baidu count package at the plan's price, valid 12 months (``2. 购买次数包``)."""
    return _package(plan.api(api), plan.package_months, package_id, calls, purchased_at)


# --- QPS orders (`3. 按QPS购买`) -------------------------------------------------------------


def qps_order_price(qps: int, months: int, days: int, tiers: Sequence[QpsTier]) -> Decimal:
    """The price of one QPS order, rounded to the cent.

    The QPS of one order are priced per tier ("阶梯价格梯度按照单次购买的数量计算，不同订单不
    累计"), then times the months at the monthly price plus the days at the daily price
    (示例二: 500 x 2 + 50 x 5 x 2 = 1500).
    """
    _check_period(qps, months, days)
    _check_qps_tiers(tiers)
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
    if _count(qps, "number of QPS") == 0:
        raise PricingError("A QPS order needs at least 1 QPS.")
    if _count(months, "number of months") + _count(days, "number of days") == 0:
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
    if _count(bought_today, "QPS bought today") + qps > limit:
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
    _aware(purchased_at, "purchase time")
    validate_qps_order(api, qps, months, days, bought_today, plan=plan)
    price = qps_order_price(qps, months, days, plan.qps_tiers)
    expires_at = add_months(purchased_at, months) + timedelta(days=days)
    return QpsOrder(order_id, api, qps, months, days, price, purchased_at, expires_at)


# --- package deduction (`2. 购买次数包`) --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PackageBalance:
    """A package and the calls left in it."""

    package: CountPackage
    remaining: int


@dataclass(frozen=True, slots=True)
class PackageDeduction:
    package_id: str
    calls: int


def _baidu_package_order(package: CountPackage) -> tuple:
    # "按照购买时间顺序、以及次数包规格由小至大依次扣除"
    return (package.purchased_at, package.calls, package.id)


def _deduct_in_order(
    ordered: Sequence[CountPackage], remaining: dict[str, int], calls: int, at: datetime
) -> tuple[list[PackageDeduction], int]:
    deductions: list[PackageDeduction] = []
    for package in ordered:
        if calls == 0:
            break
        left = remaining[package.id]
        if left <= 0 or not _in_force(package.purchased_at, package.expires_at, at):
            continue
        taken = min(left, calls)
        remaining[package.id] = left - taken
        calls -= taken
        deductions.append(PackageDeduction(package.id, taken))
    return deductions, calls


def deduct_packages(
    hour_start: datetime, billable_calls: int, packages: Sequence[PackageBalance]
) -> tuple[tuple[PackageDeduction, ...], int]:
    """Deduct one hour's billable calls of one API from its packages.

    "系统每小时将优先抵扣次数包额度，从已购买的次数包中按照购买时间顺序、以及次数包规格由小至大
    依次扣除相应次数；抵扣完毕后将自动转为按调用量后付费方式继续计费。" Packages in force at the
    hour's end are used, oldest purchase first and, among those bought at the same time,
    smallest first. Returns the deductions and the calls left for pay-as-you-go; the
    balances passed in are not changed.
    """
    _aware(hour_start, "hour start")
    _count(billable_calls, "number of billable calls")
    remaining = {b.package.id: b.remaining for b in packages}
    ordered = sorted((b.package for b in packages), key=_baidu_package_order)
    deductions, rest = _deduct_in_order(
        ordered, remaining, billable_calls, hour_settled_at(hour_start)
    )
    return tuple(deductions), rest


# --- bills ------------------------------------------------------------------------------------


class LineKind(StrEnum):
    FREE = "free"  # calls taken by a free quota
    PACKAGE = "package"  # calls taken by one package (``reference`` names it)
    PAYG = "payg"  # pay-as-you-go calls, with their tier breakdown
    QPS_USAGE = "qps_usage"  # calls made while a QPS order was active: no charge per call
    NOT_BILLED = "not_billed"  # failed calls the rules do not bill, beyond any free quota
    LIMITED_TIME_FREE = "limited_time_free"  # CTYun abilities free for a limited time
    OVER_QUOTA = "over_quota"  # CTYun successes beyond every package and free quota
    PACKAGE_PURCHASE = "package_purchase"  # a package bought this month
    QPS_ORDER = "qps_order"  # a QPS order placed this month


@dataclass(frozen=True, slots=True)
class BillLine:
    """One bill line; ``amount`` is rounded to the cent, once."""

    api: str
    kind: LineKind
    calls: int
    amount: Decimal
    tiers: tuple[TierRow, ...] = ()
    reference: str = ""
    note: str = ""


@dataclass(frozen=True)
class Carry:
    """What an account had used up to ``as_of`` (exclusive): free quota and package calls by
    id, and, for Baidu, pay-as-you-go calls so far in the Shanghai month containing ``as_of``.
    Store it with a bill to compute later months without replaying history."""

    as_of: datetime
    free_used: Mapping[str, int] = field(default_factory=dict)
    package_used: Mapping[str, int] = field(default_factory=dict)
    payg_month_to_date: Mapping[str, int] = field(default_factory=dict)


def carry_to_dict(carry: Carry) -> dict[str, Any]:
    """A JSON-safe dict of a carried state."""
    return {
        "as_of": carry.as_of.isoformat(),
        "free_used": dict(carry.free_used),
        "package_used": dict(carry.package_used),
        "payg_month_to_date": dict(carry.payg_month_to_date),
    }


def carry_from_dict(data: Mapping[str, Any]) -> Carry:
    """The carried state stored by ``carry_to_dict``."""
    return Carry(
        as_of=_aware(datetime.fromisoformat(data["as_of"]), "carried state time"),
        free_used=dict(data.get("free_used", {})),
        package_used=dict(data.get("package_used", {})),
        payg_month_to_date=dict(data.get("payg_month_to_date", {})),
    )


@dataclass(frozen=True)
class MonthBill:
    """A vendor account's bill for one natural Shanghai month."""

    vendor: str
    year: int
    month: int
    period_start: datetime
    period_end: datetime
    lines: tuple[BillLine, ...]
    total: Decimal
    closing: Carry

    def lines_of(self, kind: LineKind, api: str | None = None) -> tuple[BillLine, ...]:
        return tuple(
            line for line in self.lines if line.kind == kind and (api is None or line.api == api)
        )


def _merged_hours(
    usage: Iterable[HourlyUsage], start: datetime | None, until: datetime
) -> list[tuple[datetime, str, int, int]]:
    """Usage rows in [start, until), one per hour and API, in time order."""
    merged: dict[tuple[datetime, str], list[int]] = {}
    for row in usage:
        hour = row.hour_start
        if not isinstance(hour, datetime) or hour.utcoffset() is None:
            raise PricingError(f"The usage hour needs a time zone: {hour!r} ({row.api}).")
        if hour.minute or hour.second or hour.microsecond:
            raise PricingError(f"A usage rollup must start on the hour, not at {hour.isoformat()}.")
        if hour >= until or (start is not None and hour < start):
            continue
        _count(row.success, "number of successful calls")
        _count(row.failed, "number of failed calls")
        counts = merged.get((hour, row.api))
        if counts is None:
            merged[(hour, row.api)] = [row.success, row.failed]
        else:
            counts[0] += row.success
            counts[1] += row.failed
    return sorted(
        ((hour, api, s, f) for (hour, api), (s, f) in merged.items()), key=lambda r: (r[0], r[1])
    )


def _by_api(records: Iterable, order) -> dict[str, list]:
    grouped: dict[str, list] = {}
    for record in records:
        grouped.setdefault(record.api, []).append(record)
    return {api: sorted(items, key=order) for api, items in grouped.items()}


def _unique_ids(kind: str, records: Sequence) -> None:
    ids = [r.id for r in records]
    if len(set(ids)) != len(ids):
        raise PricingError(f"Two {kind} share one id.")


def _start_of_replay(carried: Carry | None, until: datetime) -> datetime | None:
    _aware(until, "end of the period")
    if carried is None:
        return None
    _aware(carried.as_of, "carried state time")
    if carried.as_of > until:
        raise PricingError("The carried state is later than the end of the period to compute.")
    return carried.as_of


def _purchase_lines(
    packages: Sequence[CountPackage], start: datetime, end: datetime
) -> list[BillLine]:
    # Purchases are charged on the bill of the month they are bought in.
    return [
        BillLine(
            api=p.api,
            kind=LineKind.PACKAGE_PURCHASE,
            calls=p.calls,
            amount=round_line(p.price),
            reference=p.id,
            note=f"{p.calls:,}-call package, valid until {_local(p.expires_at)}",
        )
        for p in sorted(packages, key=_baidu_package_order)
        if start <= p.purchased_at < end
    ]


def _month_bill(vendor, year, month, start, end, lines, closing) -> MonthBill:
    total = sum((line.amount for line in lines), ZERO)
    return MonthBill(vendor, year, month, start, end, tuple(lines), round_line(total), closing)


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
    start = _start_of_replay(carried, until)
    api_plans = {a.api: a for a in plan.apis}
    for record in (*free_quotas, *packages, *qps_orders):
        plan.api(record.api)
    _unique_ids("free quotas", free_quotas)
    _unique_ids("packages", packages)
    free_by_api = _one_claim_per_api(free_quotas)
    packages_by_api = _by_api(packages, _baidu_package_order)
    orders_by_api = _by_api(qps_orders, lambda o: (o.purchased_at, o.id))

    free_used = dict(carried.free_used) if carried else {}
    package_used = dict(carried.package_used) if carried else {}
    payg_month = dict(carried.payg_month_to_date) if carried else {}
    package_left = {p.id: p.calls - package_used.get(p.id, 0) for p in packages}
    month_of: dict[datetime, tuple[int, int]] = {}
    current_month = _month_key(start) if start is not None else None

    allocations: list[BaiduHourAllocation] = []
    for hour, api, success, failed in _merged_hours(usage, start, until):
        api_plan = api_plans.get(api)
        if api_plan is None:
            plan.api(api)
        month = month_of.get(hour)
        if month is None:
            month = month_of[hour] = _month_key(hour)
        if month != current_month:
            # "月初，上月累积的调用量清零，重新开始累积本月调用量"
            payg_month, current_month = {}, month
        at = hour + _HOUR_LAST_INSTANT
        total = success + failed
        payg_before = payg_month.get(api, 0)

        orders = orders_by_api.get(api)
        if orders and any(_in_force(o.purchased_at, o.expires_at, at) for o in orders):
            allocations.append(
                BaiduHourAllocation(hour, api, success, failed, 0, (), total, 0, 0, payg_before)
            )
            continue

        free = 0
        quota = free_by_api.get(api)
        if quota is not None and _in_force(quota.claimed_at, quota.expires_at, at):
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
            deductions, payg = _deduct_in_order(api_packages, package_left, billable, at)
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

    if current_month != _month_key(until):
        payg_month = {}
    closing = Carry(
        as_of=until,
        free_used=free_used,
        package_used={
            p.id: p.calls - package_left[p.id] for p in packages if package_left[p.id] != p.calls
        },
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
    if carried is not None and _aware(carried.as_of, "carried state time") > start:
        raise PricingError("The carried state must be from the month's start or earlier.")
    allocations, closing = baidu_allocate_hours(
        usage,
        plan=plan,
        until=end,
        free_quotas=free_quotas,
        packages=packages,
        qps_orders=qps_orders,
        carried=carried,
    )
    totals: dict[str, list[int]] = {}  # api -> [free, qps, not billed, payg]
    package_calls: dict[str, dict[str, int]] = {}
    for a in allocations:
        if a.hour_start < start:
            continue
        sums = totals.setdefault(a.api, [0, 0, 0, 0])
        sums[0] += a.free
        sums[1] += a.qps
        sums[2] += a.not_billed
        sums[3] += a.payg
        for d in a.packages:
            per_package = package_calls.setdefault(a.api, {})
            per_package[d.package_id] = per_package.get(d.package_id, 0) + d.calls

    package_rank = {p.id: rank for rank, p in enumerate(sorted(packages, key=_baidu_package_order))}
    lines: list[BillLine] = []
    for api_plan in plan.apis:
        api = api_plan.api
        if api not in totals:
            continue
        free, qps, not_billed, payg = totals[api]
        if free:
            lines.append(BillLine(api, LineKind.FREE, free, NO_CHARGE, note="Free trial quota"))
        for package_id, calls in sorted(
            package_calls.get(api, {}).items(), key=lambda i: package_rank[i[0]]
        ):
            lines.append(
                BillLine(
                    api,
                    LineKind.PACKAGE,
                    calls,
                    NO_CHARGE,
                    reference=package_id,
                    note="Count package",
                )
            )
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
    lines.extend(_purchase_lines(packages, start, end))
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
    return _month_bill("baidu", year, month, start, end, lines, closing)


# --- CTYun (`3 计费说明`, `5.1 计费类`) ---------------------------------------------------------


def ctyun_free_quota(plan: CtyunPlan, quota_id: str, api: str, claimed_at: datetime) -> FreeQuota:
    """CTYun's yearly free quota: valid for the calendar year in which it is claimed, until
    1 January 00:00 Shanghai time ("10000 次/年 ... 当年有效，过期作废", ``3.1 计费模式``)."""
    _aware(claimed_at, "claim time")
    year = claimed_at.astimezone(SHANGHAI).year
    expires_at = datetime(year + 1, 1, 1, tzinfo=SHANGHAI)
    return FreeQuota(quota_id, api, plan.api(api).free_calls_per_year, claimed_at, expires_at)


@dataclass(frozen=True)
class FreeClaim:
    """A free quota claimed in the vendor's console: for one ``api``, or, with ``api`` empty,
    for every API the ``plan`` (the version in force at ``claimed_at``) meters, at once."""

    plan: BaiduPlan | CtyunPlan
    claimed_at: datetime
    api: str = ""


def claimed_free_quotas(
    plan: BaiduPlan | CtyunPlan, claims: Sequence[FreeClaim], certification: str
) -> tuple[FreeQuota, ...]:
    """The free quotas an account's claims grant, one per API (Baidu) or per API and
    Shanghai calendar year (CTYun), each sized by the plan in force when it was claimed.

    * Baidu (``免费测试资源``: "选择您需要接口服务领取，领取后即可生效，有效期365天"): each API
      is claimed on its own date, once ("one-off"); an API's own claim takes the place of
      a whole-account claim. Ids ``free:<api>``.
    * CTYun (``3.1 计费模式``: "10000 次/年 ... 以单个 API 为统计维度，当年有效，过期作废"): each
      metered API may be claimed once per calendar year, again every year; a claim of one
      API in a year takes the place of a whole-account claim of that year. Ids
      ``free:<api>:<year>``, so a year's quota (and the bills using it) never changes when
      the next year is claimed.

    ``plan`` tells the vendor; each claim is sized by its own ``plan``.
    """
    for claim in claims:
        _aware(claim.claimed_at, "claim time")
    own = [claim for claim in claims if claim.api]
    whole = sorted((claim for claim in claims if not claim.api), key=lambda c: c.claimed_at)
    if isinstance(plan, BaiduPlan):
        return _baidu_claimed(own, whole, certification)
    return _ctyun_claimed(own, whole)


def _one_claim_per_api(claims: Iterable[Any]) -> dict[str, Any]:
    """``claims`` (free quotas or claims) by API: Baidu's free quota is one-off per API."""
    by_api: dict[str, Any] = {}
    for claim in claims:
        if claim.api in by_api:
            raise PricingError(
                f"Baidu's free quota is one-off: {claim.api} cannot have two claims."
            )
        by_api[claim.api] = claim
    return by_api


def _baidu_claimed(
    own: Sequence[FreeClaim], whole: Sequence[FreeClaim], certification: str
) -> tuple[FreeQuota, ...]:
    chosen: dict[str, FreeClaim] = _one_claim_per_api(own)
    for claim in whole[:1]:  # the first whole-account claim; later ones find nothing left
        for api_plan in claim.plan.apis:
            chosen.setdefault(api_plan.api, claim)
    return tuple(
        baidu_free_quota(claim.plan, f"free:{api}", api, claim.claimed_at, certification)
        for api, claim in sorted(chosen.items(), key=lambda item: (item[1].claimed_at, item[0]))
    )


def _ctyun_claimed(own: Sequence[FreeClaim], whole: Sequence[FreeClaim]) -> tuple[FreeQuota, ...]:
    chosen: dict[tuple[str, int], FreeClaim] = {}
    for claim in own:
        claim.plan.api(claim.api)  # metered APIs only: the others have no quota to claim
        key = (claim.api, claim.claimed_at.astimezone(SHANGHAI).year)
        if key in chosen:
            raise PricingError(
                f"The {claim.api} free quota was claimed twice in {key[1]}: once a year."
            )
        chosen[key] = claim
    for claim in whole:
        year = claim.claimed_at.astimezone(SHANGHAI).year
        for api_plan in claim.plan.apis:
            chosen.setdefault((api_plan.api, year), claim)
    return tuple(
        ctyun_free_quota(claim.plan, f"free:{api}:{year}", api, claim.claimed_at)
        for (api, year), claim in sorted(
            chosen.items(), key=lambda item: (item[1].claimed_at, item[0])
        )
    )


def ctyun_package(
    plan: CtyunPlan, package_id: str, api: str, calls: int, purchased_at: datetime
) -> CountPackage:
    """A CTYun capped package at the plan's price, valid one year ("资源包有效期一年")."""
    return _package(plan.api(api), plan.package_months, package_id, calls, purchased_at)


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


@dataclass(frozen=True)
class CtyunAllocation:
    """Where some calls went, and the state after them."""

    free_quota: int
    packages: tuple[PackageDeduction, ...]
    unmetered: int
    state: CtyunQuotaState

    @property
    def allocated(self) -> int:
        return self.free_quota + sum(d.calls for d in self.packages) + self.unmetered


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
        p for p in ordered if package_left[p.id] > 0 and _in_force(p.purchased_at, p.expires_at, at)
    ]
    current = next((p for p in live if package_left[p.id] < p.calls), None)
    quota = next(
        (q for q in quotas if free_left[q.id] > 0 and _in_force(q.claimed_at, q.expires_at, at)),
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


def ctyun_allocate(
    calls: int, state: CtyunQuotaState, *, at: datetime
) -> tuple[CtyunAllocation, int]:
    """Allocate ``calls`` successful calls of one CTYun API made at ``at``.

    Only successful calls count ("成功调用算入计费次数"). Returns the allocation (with the
    state after it) and how many calls nothing was left for: the vendor refuses those
    ("有效期内资源包中的次数用完之后，用户无法再调用 AI 产品 API").
    """
    _count(calls, "number of calls")
    _aware(at, "call time")
    if not state.metered:
        return CtyunAllocation(0, (), calls, state), 0
    ordered = sorted((b.package for b in state.packages), key=_ctyun_package_order)
    package_left = {b.package.id: b.remaining for b in state.packages}
    quotas = sorted((b.quota for b in state.free_quotas), key=lambda q: (q.claimed_at, q.id))
    free_left = {b.quota.id: b.remaining for b in state.free_quotas}
    free_used, deductions, refused = _ctyun_consume(
        calls, ordered, package_left, quotas, free_left, at
    )
    after = replace(
        state,
        packages=tuple(
            PackageBalance(b.package, package_left[b.package.id]) for b in state.packages
        ),
        free_quotas=tuple(
            FreeQuotaBalance(b.quota, free_left[b.quota.id]) for b in state.free_quotas
        ),
    )
    return CtyunAllocation(free_used, tuple(deductions), 0, after), refused


def ctyun_can_call(state: CtyunQuotaState, *, at: datetime) -> bool:
    """Whether one more call of this API may be made at ``at``."""
    _aware(at, "call time")
    if not state.metered:
        return True
    return any(
        b.remaining > 0 and _in_force(b.package.purchased_at, b.package.expires_at, at)
        for b in state.packages
    ) or any(
        b.remaining > 0 and _in_force(b.quota.claimed_at, b.quota.expires_at, at)
        for b in state.free_quotas
    )


def _check_ctyun_claims(free_quotas: Sequence[FreeQuota]) -> None:
    seen: set[tuple[str, int]] = set()
    for quota in free_quotas:
        key = (quota.api, quota.claimed_at.astimezone(SHANGHAI).year)
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
    start = _start_of_replay(carried, until)
    for record in (*free_quotas, *packages):
        plan.api(record.api)
    _unique_ids("free quotas", free_quotas)
    _unique_ids("packages", packages)
    _check_ctyun_claims(free_quotas)
    packages_by_api = _by_api(packages, _ctyun_package_order)
    quotas_by_api = _by_api(free_quotas, lambda q: (q.claimed_at, q.id))
    package_used = carried.package_used if carried else {}
    free_used = carried.free_used if carried else {}
    package_left = {p.id: p.calls - package_used.get(p.id, 0) for p in packages}
    free_left = {q.id: q.calls - free_used.get(q.id, 0) for q in free_quotas}
    metered: dict[str, bool] = {}

    allocations: list[CtyunHourAllocation] = []
    for hour, api, success, failed in _merged_hours(usage, start, until):
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
            hour + _HOUR_LAST_INSTANT,
        )
        allocations.append(
            CtyunHourAllocation(hour, api, success, failed, free, tuple(deductions), 0, over)
        )

    closing = Carry(
        as_of=until,
        free_used={
            q.id: q.calls - free_left[q.id] for q in free_quotas if free_left[q.id] != q.calls
        },
        package_used={
            p.id: p.calls - package_left[p.id] for p in packages if package_left[p.id] != p.calls
        },
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
    if carried is not None and _aware(carried.as_of, "carried state time") > start:
        raise PricingError("The carried state must be from the month's start or earlier.")
    allocations, closing = ctyun_allocate_hours(
        usage, plan=plan, until=end, free_quotas=free_quotas, packages=packages, carried=carried
    )
    totals: dict[str, list[int]] = {}  # api -> [free, unmetered, failed, over quota]
    package_calls: dict[str, dict[str, int]] = {}
    for a in allocations:
        if a.hour_start < start:
            continue
        sums = totals.setdefault(a.api, [0, 0, 0, 0])
        sums[0] += a.free
        sums[1] += a.unmetered
        sums[2] += a.failed
        sums[3] += a.over_quota
        for d in a.packages:
            per_package = package_calls.setdefault(a.api, {})
            per_package[d.package_id] = per_package.get(d.package_id, 0) + d.calls

    package_rank = {p.id: rank for rank, p in enumerate(sorted(packages, key=_ctyun_package_order))}
    lines: list[BillLine] = []
    for api in [a.api for a in plan.apis] + list(plan.limited_time_free_apis):
        if api not in totals:
            continue
        free, unmetered, failed, over = totals[api]
        if free:
            lines.append(BillLine(api, LineKind.FREE, free, NO_CHARGE, note="Yearly free quota"))
        for package_id, calls in sorted(
            package_calls.get(api, {}).items(), key=lambda i: package_rank[i[0]]
        ):
            lines.append(
                BillLine(
                    api, LineKind.PACKAGE, calls, NO_CHARGE, reference=package_id, note="Package"
                )
            )
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
    lines.extend(_purchase_lines(packages, start, end))
    return _month_bill("ctyun", year, month, start, end, lines, closing)


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
    _aware(now, "current time")
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
