"""What an account holds, as plain records: hourly usage, free quotas (and the claims that
grant them), count packages and QPS orders, and the in-order deduction of packages.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from billing.pricing.calendar import SHANGHAI, add_months, aware, in_force, shanghai_year
from billing.pricing.money import PricingError
from billing.pricing.plans import BaiduPlan, CtyunPlan

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
    aware(claimed_at, "claim time")
    calls = plan.api(api).free_calls(certification)
    expires_at = claimed_at + timedelta(days=plan.free_quota_days)
    return FreeQuota(quota_id, api, calls, claimed_at, expires_at)


def _package(api_plan, package_months: int, package_id, calls, purchased_at) -> CountPackage:
    aware(purchased_at, "purchase time")
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


def baidu_package_order(package: CountPackage) -> tuple:
    # "按照购买时间顺序、以及次数包规格由小至大依次扣除"
    return (package.purchased_at, package.calls, package.id)


def deduct_in_order(
    ordered: Sequence[CountPackage], remaining: dict[str, int], calls: int, at: datetime
) -> tuple[list[PackageDeduction], int]:
    deductions: list[PackageDeduction] = []
    for package in ordered:
        if calls == 0:
            break
        left = remaining[package.id]
        if left <= 0 or not in_force(package.purchased_at, package.expires_at, at):
            continue
        taken = min(left, calls)
        remaining[package.id] = left - taken
        calls -= taken
        deductions.append(PackageDeduction(package.id, taken))
    return deductions, calls


# --- CTYun (`3 计费说明`, `5.1 计费类`) ---------------------------------------------------------


def ctyun_free_quota(plan: CtyunPlan, quota_id: str, api: str, claimed_at: datetime) -> FreeQuota:
    """CTYun's yearly free quota: valid for the calendar year in which it is claimed, until
    1 January 00:00 Shanghai time ("10000 次/年 ... 当年有效，过期作废", ``3.1 计费模式``)."""
    aware(claimed_at, "claim time")
    year = shanghai_year(claimed_at)
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
        aware(claim.claimed_at, "claim time")
    own = [claim for claim in claims if claim.api]
    whole = sorted((claim for claim in claims if not claim.api), key=lambda c: c.claimed_at)
    if isinstance(plan, BaiduPlan):
        return _baidu_claimed(own, whole, certification)
    return _ctyun_claimed(own, whole)


def one_claim_per_api(claims: Iterable[Any]) -> dict[str, Any]:
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
    chosen: dict[str, FreeClaim] = one_claim_per_api(own)
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
        key = (claim.api, shanghai_year(claim.claimed_at))
        if key in chosen:
            raise PricingError(
                f"The {claim.api} free quota was claimed twice in {key[1]}: once a year."
            )
        chosen[key] = claim
    for claim in whole:
        year = shanghai_year(claim.claimed_at)
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
