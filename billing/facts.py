"""The facts an account's bills are computed from: the stored claims, packages, QPS orders
and first activity of a vendor account, turned into ``pricing`` records (the one place the
ORM rows become the pure records the vendors' rules are applied to)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Min

from billing import plans, pricing
from billing.models import FreeQuotaClaim, HourlyRollup, Package, QpsOrder, UsageRecord
from billing.pricing import CountPackage, FreeQuota
from billing.pricing.calendar import shanghai_minute


@dataclass(frozen=True)
class AccountFacts:
    """What the vendor's rules are applied to, as ``pricing`` records."""

    vendor: str
    free_quotas: tuple[FreeQuota, ...]
    packages: tuple[CountPackage, ...]
    qps_orders: tuple[pricing.QpsOrder, ...]
    package_notes: dict[str, str] = field(default_factory=dict)
    earliest: datetime | None = None


def package_id(package: Package) -> str:
    return f"package:{package.pk}"


def qps_order_id(order: QpsOrder) -> str:
    return f"qps:{order.pk}"


def pricing_package(package: Package) -> CountPackage:
    """A stored package as the record ``pricing`` applies the vendor's rules to."""
    return CountPackage(
        package_id(package),
        package.api,
        package.calls,
        package.price,
        package.purchased_at,
        package.expires_at,
    )


def pricing_qps_order(order: QpsOrder) -> pricing.QpsOrder:
    """A stored QPS order as the record ``pricing`` applies the vendor's rules to."""
    return pricing.QpsOrder(
        qps_order_id(order),
        order.api,
        order.qps,
        order.months,
        order.days,
        order.price,
        order.purchased_at,
        order.expires_at,
    )


def free_quotas_of(account) -> tuple[FreeQuota, ...]:
    """The account's free quotas (``pricing.claimed_free_quotas``): its per-API claims
    (``FreeQuotaClaim``) and the whole-account claim at ``free_quota_claimed_at``, each
    sized by the plan in force when it was claimed."""
    vendor = plans.billing_vendor(account)
    claims = [
        pricing.FreeClaim(plans.plan_at(vendor, claim.claimed_at), claim.claimed_at, claim.api)
        for claim in FreeQuotaClaim.objects.filter(account=account).order_by("claimed_at", "id")
    ]
    if account.free_quota_claimed_at is not None:
        claimed_at = account.free_quota_claimed_at
        claims.append(pricing.FreeClaim(plans.plan_at(vendor, claimed_at), claimed_at))
    if not claims:
        return ()
    return pricing.claimed_free_quotas(
        plans.plan_at(vendor, claims[0].claimed_at), claims, account.certification
    )


def account_facts(account) -> AccountFacts:
    vendor = plans.billing_vendor(account)
    packages = list(Package.objects.filter(account=account).order_by("purchased_at", "id"))
    orders = list(QpsOrder.objects.filter(account=account).order_by("purchased_at", "id"))
    free = free_quotas_of(account)
    first_call = UsageRecord.objects.filter(account=account).aggregate(first=Min("occurred_at"))
    first_rollup = HourlyRollup.objects.filter(account=account).aggregate(first=Min("hour"))
    moments = [
        first_call["first"],
        first_rollup["first"],
        *(q.claimed_at for q in free),
        *(p.purchased_at for p in packages),
        *(o.purchased_at for o in orders),
    ]
    moments = [m for m in moments if m is not None]
    return AccountFacts(
        vendor=vendor,
        free_quotas=free,
        packages=tuple(pricing_package(p) for p in packages),
        qps_orders=tuple(pricing_qps_order(o) for o in orders),
        package_notes={
            package_id(p): (f"{p.calls:,}-call package bought {shanghai_minute(p.purchased_at)}")
            for p in packages
        },
        earliest=min(moments) if moments else None,
    )
