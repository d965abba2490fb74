"""Monthly budgets per camera and per site, and what happens when one is reached.

Owns:

* the month's spend of a camera or a site (``spend_of``), an estimate: vendors bill an
  account, not a camera, and Baidu's pay-as-you-go price is graduated over the whole
  account's monthly volume, so a camera's share of the bill is not defined. Each camera
  call is priced instead at what one more call of that API costs the account now (its
  marginal pay-as-you-go unit price, ``marginal_unit_price``). Free quota and count
  packages are not subtracted (they are finite and shared by the whole account), so the
  estimate leans high: what the camera's calls cost once they run out;
* ``budget_status`` for admin pages: (spent, limit, action, reached);
* the verdict for one camera, cached briefly: ``pause`` (the quota gate refuses its
  calls with code "budget") or ``slow`` (``should_analyze`` lets one frame in
  ``slow_factor`` through, and the gate lets those calls through).

A camera is subject to its own budget and to its site's (``camera_id`` empty); when
several are reached, pause wins over slow and the largest slow-down factor applies.
Months are natural months in Asia/Shanghai.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Q
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from billing import plans, pricing
from billing.models import Budget, BudgetAction, Outcome, QpsOrder, UsageRecord
from billing.pricing.calendar import month_of, shanghai_month
from monitoring.backends.registry import traits

CACHE_SECONDS = 10.0
_GENERATION_KEY = "budgets:generation"


class BudgetStatus(NamedTuple):
    """One budget this month: spend so far (CNY, estimated), its limit, what happens when
    reached, and whether it is."""

    spent: Decimal
    limit: Decimal
    action: str
    reached: bool


class Verdict(NamedTuple):
    """What the reached budgets of a camera ask for: "pause", "slow" or None."""

    action: str | None
    slow_factor: int = 1


# ---------------------------------------------------------------- prices and spend


def marginal_unit_price(account, api: str, *, at: datetime | None = None) -> Decimal:
    """What one more call of ``api`` costs the account now, in CNY (exact, unrounded).

    Baidu (``1. 按调用量后付费``): the per-call price of the graduated tier the account's
    month-to-date billable calls of ``api`` have reached; 0 while a QPS order covers the
    API ("购买QPS后调用量无限制": the order is paid whatever the calls). CTYun calls draw
    on packages paid when bought (``3 计费说明``), and the local analyzer and a private
    deployment are the customer's own machines: 0 per call.
    """
    if not traits(account.vendor).billed_per_call:
        return pricing.ZERO
    at = at or timezone.now()
    plan = _month_plan(at)
    try:
        api_plan = plan.api(api)
    except pricing.PricingError:
        return pricing.ZERO
    if QpsOrder.objects.filter(
        account=account, api=api, purchased_at__lte=at, expires_at__gt=at
    ).exists():
        return pricing.ZERO
    start, _ = shanghai_month(at)
    outcomes = [Outcome.SUCCESS]
    if api_plan.bill_failed_calls:
        outcomes.append(Outcome.VENDOR_ERROR)
    so_far = UsageRecord.objects.filter(
        account=account, api=api, outcome__in=outcomes, occurred_at__gte=start, occurred_at__lte=at
    ).count()
    return pricing.graduated_increment(so_far, 1, api_plan.payg_tiers).exact_amount


def _month_plan(at: datetime) -> pricing.BaiduPlan:
    """The Baidu plan pricing the Shanghai month of ``at`` (in force at its start)."""
    return plans.plan_for_month("baidu", *month_of(at))


def spend_of(camera_ids: Iterable[int], *, at: datetime | None = None) -> Decimal:
    """The estimated spend this Shanghai month of the calls made for these cameras:
    their billable calls (successes; failures where the plan bills them) priced at each
    account's ``marginal_unit_price``, rounded once to the cent."""
    from monitoring.models import VendorAccount

    at = at or timezone.now()
    start, _ = shanghai_month(at)
    ids = list(camera_ids)
    if not ids:
        return pricing.NO_CHARGE
    counts = (
        UsageRecord.objects.filter(camera_id__in=ids, occurred_at__gte=start, occurred_at__lte=at)
        .values("account_id", "api")
        .annotate(
            success=Count("id", filter=Q(outcome=Outcome.SUCCESS)),
            failed=Count("id", filter=Q(outcome=Outcome.VENDOR_ERROR)),
        )
    )
    rows = list(counts)
    accounts = VendorAccount.objects.in_bulk({row["account_id"] for row in rows})
    plan = _month_plan(at)
    total = pricing.ZERO
    for row in rows:
        account = accounts[row["account_id"]]
        price = marginal_unit_price(account, row["api"], at=at)
        if not price:
            continue
        billable = row["success"]
        if plan.api(row["api"]).bill_failed_calls:
            billable += row["failed"]
        total += price * billable
    return pricing.round_line(total)


# ---------------------------------------------------------------- budgets


def _cameras_of_site(site_id: int) -> list[int]:
    from cameras.models import Camera

    return list(Camera.objects.filter(site_id=site_id).values_list("id", flat=True))


def status_of(budget: Budget, *, at: datetime | None = None) -> BudgetStatus:
    """The status of one budget row this month."""
    cameras = [budget.camera_id] if budget.camera_id else _cameras_of_site(budget.site_id)
    spent = spend_of(cameras, at=at)
    return BudgetStatus(spent, budget.monthly_limit, budget.action, spent >= budget.monthly_limit)


def budget_status(scope, *, at: datetime | None = None) -> BudgetStatus | None:
    """(spent, limit, action, reached) of the budget of ``scope``: a ``cameras.Site``
    (its whole-site budget), a ``cameras.Camera`` (its own budget) or a ``Budget``.
    None when the site or camera has no budget."""
    from cameras.models import Camera, Site

    if isinstance(scope, Budget):
        budget = scope
    elif isinstance(scope, Camera):
        budget = Budget.objects.filter(site_id=scope.site_id, camera_id=scope.pk).first()
    elif isinstance(scope, Site):
        budget = Budget.objects.filter(site=scope, camera_id__isnull=True).first()
    else:
        raise TypeError(f"a budget belongs to a Site or a Camera, not {scope!r}")
    return None if budget is None else status_of(budget, at=at)


def _generation() -> int:
    return cache.get(_GENERATION_KEY, 0)


def forget_verdicts() -> None:
    """Drop every cached verdict (budgets changed)."""
    try:
        cache.incr(_GENERATION_KEY)
    except ValueError:
        cache.set(_GENERATION_KEY, 1, timeout=None)


def verdict_for(camera_id: int | None, *, at: datetime | None = None) -> Verdict:
    """What the reached budgets of a camera (its own and its site's) ask for, cached for
    ``CACHE_SECONDS`` so that the gate stays cheap."""
    if camera_id is None:
        return Verdict(None)
    key = f"budgets:verdict:{_generation()}:{camera_id}"
    cached = cache.get(key)
    if cached is not None:
        return Verdict(*cached)
    verdict = _compute_verdict(camera_id, at=at)
    cache.set(key, tuple(verdict), timeout=CACHE_SECONDS)
    return verdict


def _compute_verdict(camera_id: int, *, at: datetime | None) -> Verdict:
    from cameras.models import Camera

    site_id = Camera.objects.filter(pk=camera_id).values_list("site_id", flat=True).first()
    if site_id is None:
        return Verdict(None)
    budgets = Budget.objects.filter(site_id=site_id).filter(
        Q(camera_id=camera_id) | Q(camera_id__isnull=True)
    )
    slow_factor = 0
    for budget in budgets:
        if not _reached(budget, at=at):
            continue
        if budget.action == BudgetAction.PAUSE:
            return Verdict(BudgetAction.PAUSE.value)
        slow_factor = max(slow_factor, budget.slow_factor)
    if slow_factor:
        return Verdict(BudgetAction.SLOW.value, slow_factor)
    return Verdict(None)


def _reached(budget: Budget, *, at: datetime | None) -> bool:
    """Whether a budget is reached, cached per budget: the cameras of one site share
    their site budget's answer instead of each summing the site's spend."""
    key = f"budgets:reached:{_generation()}:{budget.pk}"
    reached = cache.get(key)
    if reached is None:
        reached = status_of(budget, at=at).reached
        cache.set(key, reached, timeout=CACHE_SECONDS)
    return reached


def pause_reason(camera_id: int | None) -> str | None:
    """Why the gate must refuse this camera's calls: a reached budget that pauses."""
    if verdict_for(camera_id).action == BudgetAction.PAUSE:
        return f"the monthly budget of camera {camera_id} (or of its site) is used up"
    return None


def should_analyze(camera_id: int | None, frame_number: int) -> bool:
    """Whether the pipeline should send frame number ``frame_number`` of this camera.

    With a reached ``slow`` budget, one frame in ``slow_factor`` (those whose number is a
    multiple of it); with a reached ``pause`` budget none (the gate would refuse them);
    otherwise every frame."""
    verdict = verdict_for(camera_id)
    if verdict.action == BudgetAction.PAUSE:
        return False
    if verdict.action == BudgetAction.SLOW:
        return frame_number % verdict.slow_factor == 0
    return True


@receiver(post_save, sender=Budget, dispatch_uid="billing.budgets.budget_saved")
@receiver(post_delete, sender=Budget, dispatch_uid="billing.budgets.budget_deleted")
def _budget_changed(**_kwargs) -> None:
    # Again on commit: a check between now and the commit would cache the old verdict.
    forget_verdicts()
    transaction.on_commit(forget_verdicts)
