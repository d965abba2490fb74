"""What a camera's analyses will cost: projected calls and CNY per month, which APIs each
kind of vendor account offers, and which of them run on cameras (``camera_apis``). This
module is the catalog ``cameras.catalog`` asks (installed in ``billing.apps``).

The projection is a planning aid for one analysis on its own, not a bill:

* a month is 30 days: calls per month = 30 × 86,400 / interval, rounded down;
* Baidu online: pay-as-you-go graduated tiers (``billing.pricing.graduated_amount``) on
  this analysis's calls alone; the free trial quota, packages, QPS orders and the calls of
  other cameras on the same account are ignored (they can only lower the price per call
  here, or raise the tier reached by the account);
* CTYun helmet, workwear and fence: sold as packages valid ``package_months`` (12) months.
  The smallest package holding that many months of these calls is bought (as many of the
  largest as needed when none is big enough), and its price is spread evenly over the
  months; the yearly free quota is ignored. Prices come from the plan: 0 in the public
  beta. The other CTYun abilities are free for a limited time: 0;
* a private Baidu deployment is licensed, not paid per call, and the local analyzer runs on
  this server: 0;
* an analysis that calls only when someone is there (``only_with_person``, the on-box
  prefilter of ``monitoring.prefilter``) is projected at the calls it made over the last
  7 days' due frames: calls per month × (1 − the share skipped), rounded down.

The price plan is ``billing.plans.plan_at(vendor, moment)`` when that module exists, else
``billing.pricing.DEFAULT_PLANS``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone
from django.utils.translation import gettext as _

from billing import pricing
from cameras.catalog import SECONDS_PER_DAY, parse_interval
from monitoring.backends import registry
from monitoring.backends.base import LICENCE, ON_BOX, Unsupported

DAYS_PER_MONTH = 30
SECONDS_PER_MONTH = DAYS_PER_MONTH * SECONDS_PER_DAY
CURRENCY = "CNY"
ZERO = Decimal("0.00")


def vendors() -> list[str]:
    """Every vendor an account can be of."""
    return list(registry.VENDORS)


def region_max_points(vendor: str, api: str) -> int | None:
    """The most points a region of ``api`` on ``vendor`` may have, when its spec says."""
    try:
        return registry.api_spec(vendor, api).region_max_points
    except Unsupported:
        return None


def vendor_apis(vendor: str) -> list[str]:
    """The API names an account of ``vendor`` (``VendorAccount.vendor``) can run."""
    return registry.vendor_apis(vendor)


def not_on_cameras(api: str) -> str | None:
    """Why an API a vendor offers is not offered on cameras, or None when it is.

    CTYun liveness (``4.3.4.2 动作活体检测``): "判断图片序列中是否有对应动作": a sequence of 3 to
    35 images of one face doing the action asked of it (shake, nod, blink...), to tell a
    live person from a photo ("有效防止照片、纸张以及头模的非活体攻击"). A fixed site camera
    asks no one to act and sees many faces, or none, at any size: the vendor would answer
    4204 ("人脸探测异常") or a meaningless "no action", paid or not. Existing analyses of it
    are reported (``monitoring.pipeline``), never called.

    CTYun face quality (``4.3.4.1 人脸质量检测``): "判断人脸图像是否正面、清晰、完整", one
    image "包含人脸" graded good, medium or bad. It is the first step of the face action
    liveness check (``动作活体认证: 包含人脸质量检测及动作活体检测``): it tells whether a face
    image is good enough for liveness, which is not offered here. On a site camera's frame
    (many faces or none, far and turned away) the grade says nothing a rule, a mask or an
    overlay could act on, so it is not offered on cameras either; a gate check-in with a
    browser at the entrance would be its place (not built)."""
    from monitoring.backends.ctyun import CTYUN_APIS

    spec = CTYUN_APIS.get(api)
    reasons = {
        "liveness": _(
            "Liveness (%(api)s) checks that one person in front of the lens performs a face "
            "action they were asked for (3 to 35 images of one face): a fixed site camera "
            "asks no one to act, so it is not offered on cameras."
        ),
        "face_quality": _(
            "Face quality (%(api)s) grades one close, frontal face as good enough for a "
            "liveness check: a site camera sees many faces or none, far away, and nothing "
            "acts on the grade, so it is not offered on cameras."
        ),
    }
    if spec is not None and spec.answer in reasons:
        return reasons[spec.answer] % {"api": api}
    return None


def camera_apis(vendor: str) -> list[str]:
    """The APIs an account of ``vendor`` can run on a camera: what it offers, less those
    ``not_on_cameras``."""
    return [api for api in vendor_apis(vendor) if not_on_cameras(api) is None]


def calls_per_month(interval) -> int:
    """Calls in a 30-day month at one call every ``interval`` seconds, rounded down."""
    exact = Decimal(SECONDS_PER_MONTH) / parse_interval(interval)
    return int(exact.to_integral_value(rounding=ROUND_FLOOR))


def current_plan(vendor: str, at=None):
    """The price plan of ``vendor`` ("baidu" or "ctyun") in force at ``at`` (now)."""
    try:
        from billing.plans import plan_at
    except ImportError:
        plan_at = None
    if plan_at is not None:
        try:
            plan = plan_at(vendor, at or timezone.now())
        except (LookupError, ObjectDoesNotExist):
            plan = None
        if plan is not None:
            return plan
    return pricing.DEFAULT_PLANS.get(vendor)


@dataclass(frozen=True)
class Projection:
    """Projected monthly calls and cost of one analysis; ``cost_per_month`` is None when
    the plan has no price for the API, and ``basis`` says how it was worked out."""

    vendor: str
    api: str
    interval: Decimal
    calls_per_month: int
    cost_per_month: Decimal | None
    basis: str
    currency: str = CURRENCY
    calls_skipped_per_month: int = 0  # by the on-box prefilter, from recent history

    def as_dict(self) -> dict:
        return {
            "vendor": self.vendor,
            "api": self.api,
            "interval": str(self.interval),
            "calls_per_month": self.calls_per_month,
            "calls_skipped_per_month": self.calls_skipped_per_month,
            "cost_per_month": None if self.cost_per_month is None else str(self.cost_per_month),
            "currency": self.currency,
            "basis": self.basis,
        }


def ctyun_package_cost(calls: int, specs, package_months: int) -> tuple[Decimal, int, int]:
    """(price, package size, how many) of the packages bought to hold ``calls``: the
    smallest single package that holds them, else as many of the largest as needed."""
    ordered = sorted(specs, key=lambda spec: spec.calls)
    if not ordered:
        raise pricing.PricingError("The plan sells no package for this API.")
    for spec in ordered:
        if spec.calls >= calls:
            return spec.price, spec.calls, 1
    largest = ordered[-1]
    count = math.ceil(calls / largest.calls)
    return largest.price * count, largest.calls, count


def pays_per_call(vendor: str) -> bool:
    """Whether calls of a ``vendor`` account are paid for, per call or from packages
    (see ``project``): not the on-box analyzer, not a licensed private deployment."""
    return registry.traits(vendor).metered


def default_only_with_person(camera, account) -> bool:
    """A new analysis calls only when someone is there when it pays per call and its
    camera has regions drawn (the analysis looks at a region)."""
    return pays_per_call(account.vendor) and camera.pk is not None and camera.regions.exists()


def project(
    vendor: str, api: str, interval, *, plan=None, at=None, skip_share: float = 0.0
) -> Projection:
    """Projected calls and CNY per month of running ``api`` on a ``vendor`` account once
    every ``interval`` seconds, ``skip_share`` of the due frames skipped by the on-box
    prefilter. ``plan`` overrides the plan in force."""
    seconds = parse_interval(interval)
    due = calls_per_month(seconds)
    calls = math.floor(due * (1 - min(max(skip_share, 0.0), 1.0)))

    def result(cost: Decimal | None, basis: str) -> Projection:
        if calls < due:
            basis += " " + _(
                "Only when someone is there: %(percent)s%% of the due frames were skipped "
                "over the last 7 days, and as many are assumed skipped."
            ) % {"percent": f"{skip_share * 100:.0f}"}
        return Projection(vendor, api, seconds, calls, cost, basis, CURRENCY, due - calls)

    try:
        paid = registry.traits(vendor)
    except Unsupported:
        return result(None, _("No price plan is known for this vendor."))
    if paid.billing == ON_BOX:
        return result(ZERO, _("The local analyzer runs on this server: no charge per call."))
    if paid.billing == LICENCE:
        return result(ZERO, _("A private deployment is licensed, not paid per call."))
    plan = plan if plan is not None else current_plan(vendor, at)
    if paid.billed_per_call and isinstance(plan, pricing.BaiduPlan):
        try:
            tiers = plan.api(api).payg_tiers
        except pricing.PricingError:
            return result(None, _("The Baidu price plan has no price for %(api)s.") % {"api": api})
        amount = pricing.graduated_amount(calls, tiers).amount
        return result(
            amount,
            _(
                "Baidu pay-as-you-go tiers for this camera's calls alone, in a 30-day month; "
                "the free trial quota and other cameras on the account are not counted."
            ),
        )
    if paid.paid_by_packages and isinstance(plan, pricing.CtyunPlan):
        if api in plan.limited_time_free_apis:
            return result(ZERO, _("CTYun offers %(api)s free for a limited time.") % {"api": api})
        try:
            api_plan = plan.api(api)
        except pricing.PricingError:
            return result(None, _("The CTYun price plan does not cover %(api)s.") % {"api": api})
        months = plan.package_months
        price, size, count = ctyun_package_cost(calls * months, api_plan.package_specs, months)
        monthly = pricing.round_line(price / months)
        return result(
            monthly,
            _(
                "%(count)d CTYun package(s) of %(size)s calls hold %(months)d months of these "
                "calls; the price (%(price)s CNY) is spread over %(months)d months. The yearly "
                "free quota is not counted."
            )
            % {"count": count, "size": f"{size:,}", "months": months, "price": price},
        )
    return result(None, _("No price plan is known for this vendor."))


def project_analysis(analysis) -> Projection:
    """The projection of a ``CameraAnalysis``, its recent prefilter skips counted."""
    from monitoring.prefilter import recent_skip_share

    return project(
        analysis.account.vendor,
        analysis.api,
        analysis.interval,
        skip_share=recent_skip_share(analysis),
    )


@dataclass(frozen=True)
class CameraCost:
    """The enabled analyses of a camera together: calls and cost per month. ``complete``
    is False when some analysis has no known price (its cost is left out of the total)."""

    calls_per_month: int
    cost_per_month: Decimal
    complete: bool


def camera_cost(camera) -> CameraCost:
    """What ``camera`` costs as it runs now: nothing while it is disabled."""
    calls, cost, complete = 0, ZERO, True
    if not camera.enabled:
        return CameraCost(calls, cost, complete)
    for analysis in camera.analyses.filter(enabled=True).select_related("account"):
        projection = project_analysis(analysis)
        calls += projection.calls_per_month
        if projection.cost_per_month is None:
            complete = False
        else:
            cost += projection.cost_per_month
    return CameraCost(calls, cost, complete)
