"""Price plans as data: the frozen plan dataclasses, the seeds' numbers in ``DEFAULT_PLANS``
and ``plan_to_dict`` / ``plan_from_dict`` for JSON storage.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass, replace
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Literal

from billing.pricing.money import PricingError, Tier, check_count, check_money, check_tiers

Certification = Literal["personal", "enterprise"]


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
        check_tiers(self.payg_tiers)
        check_count(self.free_calls_personal, "personal free quota")
        check_count(self.free_calls_enterprise, "enterprise free quota")
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
        if check_count(spec.calls, "package size") == 0:
            raise PricingError("A package must hold at least one call.")
        check_money(spec.price, "package price")


def check_qps_tiers(tiers: Sequence[QpsTier]) -> None:
    lower = 0
    for index, tier in enumerate(tiers):
        if (tier.upper is None) != (index == len(tiers) - 1):
            raise PricingError("Only the last QPS tier may be open-ended, and it must be.")
        if tier.upper is not None and tier.upper <= lower:
            raise PricingError(f"QPS tier bounds must rise: {tier.upper} follows {lower}.")
        check_money(tier.per_month, "monthly QPS price")
        check_money(tier.per_day, "daily QPS price")
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
        check_qps_tiers(self.qps_tiers)

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
        check_count(self.free_calls_per_year, "yearly free quota")


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
