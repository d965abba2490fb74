"""What finance records about an account at the vendor: the account itself, top-ups,
free quotas claimed, count packages and QPS orders.

Purchases are priced with the plan in force at the purchase time (``plans.plan_at``) and
the price is stored with them. The vendor's rules refuse some purchases, and so does this
module, with the reason (``pricing.PricingError``):

* count packages: Baidu sells them for ``driver_behavior`` and ``hand_analysis`` only, in
  the sizes of ``2. 购买次数包``; CTYun for ``helmet``, ``workwear`` and ``fence``
  (``3.1 计费模式``);
* QPS: Baidu only, for ``body_analysis``, ``body_attr``, ``body_num``, ``body_seg`` and
  ``gesture``, at most 50 QPS of one API bought per Shanghai day across orders
  ("单个接口一天的QPS资源购买上限为50", ``3. 按QPS购买``);
* free quota claims (``claim_free_quota``): Baidu once per API (``免费测试资源``), CTYun once
  per metered API per calendar year (``3.1 计费模式``, "当年有效");
* nothing can be bought or claimed inside a month whose bill is final (it would be missing
  from it).

A purchase is never refused for the balance: the vendor takes the money, and the balance
may go below zero (``settlement`` reports the arrears).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.dateparse import parse_datetime

from billing import bills, facts, plans, pricing
from billing.models import (
    MAX_QPS_DAYS,
    MAX_QPS_MONTHS,
    Bill,
    BillStatus,
    FreeQuotaClaim,
    Package,
    QpsOrder,
    TopUp,
)
from billing.pricing import PricingError
from billing.pricing.calendar import SHANGHAI, aware, month_of
from monitoring.backends.registry import traits
from monitoring.models import REQUIRED_CREDENTIALS, VendorAccount

CERTIFICATIONS = pricing.CERTIFICATIONS
DEFAULT_QPS_MONTHS = 1


def parse_moment(text: str, what: str = "time") -> datetime:
    """An ISO 8601 date and time; without an offset it is Asia/Shanghai time. A date alone
    means its midnight in Shanghai."""
    value = (text or "").strip()
    moment = None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = parse_datetime(value)
    if moment is None:
        raise PricingError(
            f"The {what} must be an ISO 8601 date and time, like 2024-03-01T10:00 or "
            f"2024-03-01T10:00:00+08:00, not {text!r}."
        )
    if moment.utcoffset() is None:
        moment = moment.replace(tzinfo=SHANGHAI)
    return moment


def _by(user):
    return user if getattr(user, "pk", None) else None


def _month_open(account, at: datetime) -> None:
    year, month = month_of(at)
    if Bill.objects.filter(
        account=account, year=year, month=month, status=BillStatus.FINAL
    ).exists():
        raise PricingError(
            f"The bill of {account.name} for {year:04d}-{month:02d} is final: a purchase "
            "cannot be recorded in that month."
        )


def add_account(
    name: str,
    vendor: str,
    certification: str,
    free_claimed_at: datetime | None = None,
    base_url: str | None = None,
    ak: str | None = None,
    sk: str | None = None,
    appkey: str | None = None,
) -> VendorAccount:
    """Add a Baidu or CTYun account for billing. Credentials are optional: an account
    without them is billed (usage imported, purchases recorded) but cannot be called until
    they are added; when any is given, the vendor's full set is required."""
    name = (name or "").strip()
    if not name:
        raise PricingError("The account needs a name.")
    if vendor not in plans.billed_vendors():
        raise PricingError(
            f"Unknown vendor {vendor!r}: billing accounts are "
            f"{' or '.join(plans.billed_vendors())}."
        )
    if certification not in CERTIFICATIONS:
        raise PricingError(
            f"Unknown certification {certification!r}: {' or '.join(CERTIFICATIONS)}."
        )
    if free_claimed_at is not None:
        aware(free_claimed_at, "free quota claim time")
    if VendorAccount.objects.filter(name=name).exists():
        raise PricingError(f"An account named {name!r} already exists.")
    account = VendorAccount(
        name=name,
        vendor=vendor,
        certification=certification,
        free_quota_claimed_at=free_claimed_at,
        base_url=base_url or "",
        api_key=ak or "",
        secret_key=sk or "",
        app_key=appkey or "",
    )
    credentials_given = any((ak, sk, appkey))
    try:
        account.full_clean()
    except ValidationError as error:
        messages = {
            field: problems
            for field, problems in error.message_dict.items()
            if credentials_given or field not in REQUIRED_CREDENTIALS.get(vendor, ())
        }
        if messages:
            details = "; ".join(
                f"{field}: {' '.join(problems)}" for field, problems in messages.items()
            )
            raise PricingError(f"The account cannot be added: {details}") from None
    account.save()
    return account


def top_up(account, amount: Any, at: datetime, user=None, note: str = "") -> TopUp:
    """Record money paid into the vendor account."""
    plans.billing_vendor(account)
    value = bills.parse_amount(amount, "top-up amount")
    aware(at, "top-up time")
    return TopUp.objects.create(
        account=account, amount=value, at=at, note=(note or "")[:300], created_by=_by(user)
    )


def claim_free_quota(
    account, apis: list[str] | tuple[str, ...], at: datetime, user=None
) -> list[FreeQuotaClaim]:
    """Record the free quota of each of ``apis`` claimed at ``at`` in the vendor's console
    (every API the plan in force then meters when ``apis`` is empty). Refused, with the
    reason, when the vendor would not grant it: a Baidu API claimed before, a CTYun API
    claimed before in that calendar year, an API without a free quota."""
    vendor = plans.billing_vendor(account)
    aware(at, "claim time")
    plan = plans.plan_at(vendor, at)
    wanted = list(dict.fromkeys(apis)) or [api.api for api in plan.apis]
    with transaction.atomic():
        VendorAccount.objects.select_for_update().filter(pk=account.pk).first()
        _month_open(account, at)
        claims = [
            FreeQuotaClaim(account=account, api=api, claimed_at=at, created_by=_by(user))
            for api in wanted
        ]
        # The vendor's rules on every claim of the account, the new ones included.
        stored = list(FreeQuotaClaim.objects.filter(account=account))
        whole = account.free_quota_claimed_at
        pricing.claimed_free_quotas(
            plan,
            [
                *(
                    pricing.FreeClaim(plans.plan_at(vendor, c.claimed_at), c.claimed_at, c.api)
                    for c in [*stored, *claims]
                ),
                *([pricing.FreeClaim(plans.plan_at(vendor, whole), whole)] if whole else []),
            ],
            account.certification,
        )
        for claim in claims:
            claim.save()  # one by one: the quota gate forgets what it knew on each save
        return claims


def buy_package(account, api: str, spec_calls: int, at: datetime, user=None) -> Package:
    """Record a count package bought at ``at``, priced by the plan in force then."""
    vendor = plans.billing_vendor(account)
    aware(at, "purchase time")
    plan = plans.plan_at(vendor, at)
    if traits(vendor).billed_per_call:
        package = pricing.baidu_count_package(plan, "new", api, spec_calls, at)
    else:
        package = pricing.ctyun_package(plan, "new", api, spec_calls, at)
    with transaction.atomic():
        _month_open(account, at)
        return Package.objects.create(
            account=account,
            api=package.api,
            calls=package.calls,
            price=pricing.round_line(package.price),
            purchased_at=package.purchased_at,
            expires_at=package.expires_at,
            created_by=_by(user),
        )


def buy_qps(
    account, api: str, qps: int, months: int, days: int, at: datetime, user=None
) -> QpsOrder:
    """Record a Baidu QPS order placed at ``at``: ``qps`` for ``months`` then ``days``,
    priced per the order's own tiers (orders never add up)."""
    vendor = plans.billing_vendor(account)
    if not traits(vendor).sells_qps:
        raise PricingError("QPS is sold by Baidu only; CTYun sells capped packages (3 计费说明).")
    if not (0 <= months <= MAX_QPS_MONTHS and 0 <= days <= MAX_QPS_DAYS):
        raise PricingError(
            f"A QPS order runs 0 to {MAX_QPS_MONTHS} months and 0 to {MAX_QPS_DAYS} days."
        )
    aware(at, "purchase time")
    plan = plans.plan_at(vendor, at)
    with transaction.atomic():
        # One purchase of an account at a time, so two orders cannot both pass the daily cap.
        VendorAccount.objects.select_for_update().filter(pk=account.pk).first()
        _month_open(account, at)
        same_day = [
            facts.pricing_qps_order(o) for o in QpsOrder.objects.filter(account=account, api=api)
        ]
        bought_today = pricing.qps_bought_today(same_day, api, at)
        order = pricing.baidu_qps_order(
            plan, "new", api, qps, months, days, at, bought_today=bought_today
        )
        return QpsOrder.objects.create(
            account=account,
            api=order.api,
            qps=order.qps,
            months=order.months,
            days=order.days,
            price=pricing.round_line(order.price),
            purchased_at=order.purchased_at,
            expires_at=order.expires_at,
            created_by=_by(user),
        )
