"""Price plans as data: which version of a vendor's prices is in force when, and adding one.

Every version is a ``PricePlan`` row holding ``pricing.plan_to_dict`` of a plan, in force
from ``effective_from`` until the next version starts. Versions are only ever added:
history is never rewritten, and a version may not start inside (or before) a month whose
bill has been finalized for an account of that vendor.

Which version applies:

* usage of a natural month (Asia/Shanghai) is priced by the version in force at the
  month's first instant, so a month is never priced by two plans;
* a purchase (package, QPS order) is priced by the version in force at the purchase time,
  and the price paid is stored with it;
* a free quota's size is taken from the version in force when it was claimed.

The seeds' prices (``pricing.DEFAULT_PLANS``) are loaded by the data migration as versions
effective from 2000-01-01, before any usage. When no version is stored for a moment (a
database emptied by hand), the seeds' prices apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from billing import pricing
from billing.models import Bill, BillStatus, PricePlan
from billing.pricing import BaiduPlan, CtyunPlan, PricingError
from billing.pricing.calendar import aware, month_bounds, shanghai_text
from monitoring.models import VendorAccount

Plan = BaiduPlan | CtyunPlan


def billed_vendors() -> tuple[str, ...]:
    """The vendors paid per call or per package (the backend registry's ``metered``
    trait): Baidu online and CTYun. Private deployments and the on-box analyzer are not
    billed. Also readable as ``BILLED_VENDORS``."""
    from monitoring.backends.registry import vendors_where

    return vendors_where(lambda traits: traits.metered)


def __getattr__(name: str) -> Any:
    # Asked of the registry when first read, not when this module is imported (which
    # would import every backend's client).
    if name == "BILLED_VENDORS":
        return billed_vendors()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def billed_accounts() -> QuerySet[VendorAccount]:
    """The vendor accounts of the billed vendors, by name: the accounts finance sees."""
    return VendorAccount.objects.filter(vendor__in=billed_vendors()).order_by("name")


def billing_vendor(account) -> str:
    """The pricing vendor of a vendor account, or ``PricingError`` if it is not billed."""
    if account.vendor not in billed_vendors():
        raise PricingError(
            f"The account {account.name!r} ({account.vendor}) is not billed per call: only "
            "Baidu online and CTYun accounts have bills."
        )
    return account.vendor


def _check_vendor(vendor: str) -> None:
    if vendor not in billed_vendors():
        raise PricingError(
            f"Unknown vendor {vendor!r}: price plans exist for {', '.join(billed_vendors())}."
        )


def version_at(vendor: str, moment: datetime) -> PricePlan | None:
    """The stored version in force at ``moment``, or None when none is."""
    _check_vendor(vendor)
    aware(moment, "time")
    return (
        PricePlan.objects.filter(vendor=vendor, effective_from__lte=moment)
        .order_by("-effective_from")
        .first()
    )


def plan_at(vendor: str, moment: datetime) -> Plan:
    """The plan in force at ``moment`` (the seeds' plan when no version is stored)."""
    version = version_at(vendor, moment)
    if version is None:
        return pricing.DEFAULT_PLANS[vendor]
    return pricing.plan_from_dict(version.data)


def plan_for_month(vendor: str, year: int, month: int) -> Plan:
    """The plan pricing a month's usage: the one in force at the month's start."""
    start, _end = month_bounds(year, month)
    return plan_at(vendor, start)


def known_apis(vendor: str) -> set[str]:
    """Every API any version of the vendor's plan prices (or lists as free)."""
    _check_vendor(vendor)
    plans = [pricing.DEFAULT_PLANS[vendor]] + [
        pricing.plan_from_dict(data)
        for data in PricePlan.objects.filter(vendor=vendor).values_list("data", flat=True)
    ]
    names: set[str] = set()
    for plan in plans:
        names.update(api.api for api in plan.apis)
        if isinstance(plan, CtyunPlan):
            names.update(plan.limited_time_free_apis)
    return names


def priced_apis(plan: Plan) -> set[str]:
    """The APIs one plan knows: priced ones, and for CTYun the limited-time free ones."""
    names = {api.api for api in plan.apis}
    if isinstance(plan, CtyunPlan):
        names.update(plan.limited_time_free_apis)
    return names


def last_final_month_end(vendor: str) -> datetime | None:
    """The end of the latest month finalized for any account of ``vendor``."""
    latest = (
        Bill.objects.filter(account__vendor=vendor, status=BillStatus.FINAL)
        .order_by("-year", "-month")
        .values_list("year", "month")
        .first()
    )
    if latest is None:
        return None
    return month_bounds(*latest)[1]


def _as_plan(vendor: str, plan_or_dict: Plan | Mapping[str, Any]) -> Plan:
    if isinstance(plan_or_dict, BaiduPlan | CtyunPlan):
        plan = plan_or_dict
    elif isinstance(plan_or_dict, Mapping):
        plan = pricing.plan_from_dict(plan_or_dict)
    else:
        raise PricingError(f"Not a price plan: {plan_or_dict!r}.")
    if pricing.plan_to_dict(plan)["vendor"] != vendor:
        raise PricingError(f"This plan is not a {vendor} plan.")
    return plan


def check_version(vendor: str, plan_or_dict: Plan | Mapping[str, Any], effective_from: datetime):
    """Refuse a version that may not be added; return the plan it holds."""
    _check_vendor(vendor)
    aware(effective_from, "start of the new version")
    plan = _as_plan(vendor, plan_or_dict)
    frozen_until = last_final_month_end(vendor)
    if frozen_until is not None and effective_from < frozen_until:
        raise PricingError(
            "A price plan cannot start before "
            f"{shanghai_text(frozen_until)}: "
            "the bill of the month before that is final, and history is never rewritten."
        )
    if PricePlan.objects.filter(vendor=vendor, effective_from=effective_from).exists():
        raise PricingError(
            "A version of this plan already starts at that moment; choose another start."
        )
    return plan


def add_version(
    vendor: str,
    plan_or_dict: Plan | Mapping[str, Any],
    effective_from: datetime,
    user=None,
    note: str = "",
) -> PricePlan:
    """Add a version of ``vendor``'s plan in force from ``effective_from``.

    The plan is checked by a round trip through ``pricing.plan_from_dict``, so only a
    complete, valid plan is stored.
    """
    with transaction.atomic():
        plan = check_version(vendor, plan_or_dict, effective_from)
        data = pricing.plan_to_dict(plan)
        pricing.plan_from_dict(data)
        try:
            with transaction.atomic():
                return PricePlan.objects.create(
                    vendor=vendor,
                    effective_from=effective_from,
                    data=data,
                    note=note[:300],
                    created_by=user if getattr(user, "pk", None) else None,
                )
        except IntegrityError:
            raise PricingError(
                "A version of this plan already starts at that moment; choose another start."
            ) from None
