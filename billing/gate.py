"""The quota gate: whether a call may leave for the vendor, decided before it does.

``QuotaGate.check(account, api, *, camera_id=None)`` returns when the call may go and
raises ``RefusedLocally`` with a ``code`` and a reason otherwise. In order:

* ``disabled``: the vendor account is disabled ("Disabled accounts are never called");
* ``paused`` / ``refused``: a vendor's stop answer holds this API (or the whole account)
  back (``monitoring.vendor_stops``: Baidu 17 until 00:00 Asia/Shanghai, 19, 6, 14, 15,
  refused tokens; CTYun 51001-51003, 10002, 10020, 40002, 40006). The stops are rows in
  the database, shared by every process; the cached copy is dropped when one changes;
* ``arrears``: the account is in arrears (``AccountStatus.in_arrears``, set by the hourly
  settlement): only free quota works (``欠费处理``: "欠费后...只能使用免费额度，超过额度的请求
  系统将不再响应"), so the call goes only while the account's free quota for that API is
  in force and not used up;
* ``ctyun_quota``: a CTYun API sold as packages (helmet, workwear, fence) with nothing
  left in any package or in this year's free quota: the vendor would refuse it (51002
  when nothing was bought or claimed, 51003 when used up; ``5.1 计费类``: "我们只提供封顶
  资源包的计费方式", "有效期内资源包中的次数用完之后，用户无法再调用 AI 产品 API"). Each
  API's free quota is claimed per calendar year: from 1 January a new claim lets calls
  go again (a recorded claim drops the cached facts at once);
* ``budget``: a reached monthly budget of the camera or its site that pauses analysis
  (``billing.budgets``; a budget that slows analysis down lets calls through);
* ``qps``: no request slot within ``qps_wait`` seconds (``billing.limiter``).

The local analyzer and a private deployment run on the customer's machines: only
``disabled`` refuses them. Facts read from the database (arrears, what is left, the
rate) are cached for ``cache_seconds`` in the shared cache, per account; changes to
packages, QPS orders, account status or the account itself drop them at once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache as default_cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver
from django.utils import timezone

from billing import budgets, limiter, pricing
from billing.models import AccountStatus, FreeQuotaClaim, Package, QpsOrder
from billing.pricing.calendar import shanghai_year
from billing.usage import baidu_free_quota_left, ctyun_free_quota_left, ctyun_quota_state_now
from monitoring import vendor_stops
from monitoring.backends.base import RefusedLocally
from monitoring.backends.registry import traits

CACHE_SECONDS = 10.0
QPS_WAIT = 1.0


# `5.1 计费类`: "我们只提供封顶资源包的计费方式" (no pay-as-you-go): a metered API (helmet,
# workwear, fence) is called against a package or the free quota claimed for the calendar
# year (`3.1 计费模式`), else the vendor refuses it (`4.1.3 状态码`: 51002 收费 API 未购买,
# 51003 API 可用次数已不足).
CTYUN_REFUSALS = {
    "nothing": (
        "no package bought and no free quota claimed for this API this year: the vendor "
        "answers 51002 (paid API not bought); record this year's free quota claim "
        "(manage.py billing claim-free, or /api/free-quota-claims/) or buy a package"
    ),
    "used_up": (
        "no calls left in any package or in this year's free quota (the vendor answers "
        "51003): buy a package, or record this year's free quota claim"
    ),
}


class QuotaGate:
    """Decides, per attempt, whether a call may leave. One instance per process is
    enough; every piece of state it keeps is in the shared cache or the limiter."""

    def __init__(
        self,
        *,
        rate_limiter: limiter.InProcessLimiter | limiter.RedisLimiter | None = None,
        store: Any = None,
        clock: Callable[[], datetime] = timezone.now,
        cache_seconds: float = CACHE_SECONDS,
        qps_wait: float | None = None,
    ):
        self._limiter = rate_limiter
        self.store = store if store is not None else default_cache
        self.clock = clock
        self.cache_seconds = cache_seconds
        self.qps_wait = (
            qps_wait if qps_wait is not None else getattr(settings, "METERING_QPS_WAIT", QPS_WAIT)
        )

    @property
    def limiter(self) -> limiter.InProcessLimiter | limiter.RedisLimiter:
        return self._limiter or limiter.get_limiter()

    # -- the check

    def check(
        self, account, api: str, *, camera_id: int | None = None, acquire: bool = True
    ) -> None:
        """Raise ``RefusedLocally`` if this call of ``api`` must not leave.

        ``acquire=False`` checks everything but takes no request slot: the metered path
        asks so once before opening a connection, then fully before each attempt."""
        if not account.enabled:
            raise _refused(account, api, "disabled", "the vendor account is disabled")
        vendor = traits(account.vendor)
        now = self.clock()
        stop = self._stop(account, api, now)
        if stop is not None:
            raise _refused(account, api, stop["state"], stop["message"])
        if not vendor.metered:  # paid per call or per package: quota rules apply
            return
        if self._in_arrears(account) and self._free_quota_left(account, api, now) <= 0:
            raise _refused(
                account,
                api,
                "arrears",
                "the vendor account is in arrears and its free quota for this API is used "
                "up or expired: top up the account",
            )
        if vendor.paid_by_packages:
            left = self._ctyun_left(account, api, now)
            if left != "calls":
                raise _refused(account, api, "ctyun_quota", CTYUN_REFUSALS[left])
        reason = budgets.pause_reason(camera_id)
        if reason is not None:
            raise _refused(account, api, "budget", reason)
        if acquire:
            qps = self._effective_qps(account, api, now)
            if qps is not None and not self.limiter.acquire(
                limiter.limiter_key(account.pk, api), qps, wait=self.qps_wait
            ):
                raise _refused(
                    account,
                    api,
                    "qps",
                    f"{qps} requests per second already in use; no slot within {self.qps_wait:g} s",
                    retry_after=1.0,
                )

    # -- what the vendor would say, cached

    def _key(self, account_id: int, what: str, api: str = "") -> str:
        generation = self.store.get(f"gate:{account_id}:generation", 0)
        return f"gate:{account_id}:{generation}:{what}:{api}"

    def _cached(self, key: str, compute: Callable[[], Any]) -> Any:
        value = self.store.get(key)
        if value is None:
            value = compute()
            self.store.set(key, value, timeout=self.cache_seconds)
        return value

    def _in_arrears(self, account) -> bool:
        return self._cached(
            self._key(account.pk, "arrears"),
            lambda: bool(
                AccountStatus.objects.filter(account_id=account.pk, in_arrears=True).exists()
            ),
        )

    def _free_quota_left(self, account, api: str, now: datetime) -> int:
        def compute() -> int:
            if traits(account.vendor).billed_per_call:
                return baidu_free_quota_left(account, api, at=now)
            state = ctyun_quota_state_now(account, api, at=now)
            if state is None:
                return 0
            if not state.metered:
                return 1  # free for a limited time: no quota to exhaust
            return ctyun_free_quota_left(state, at=now)

        return self._cached(self._key(account.pk, "free", api), compute)

    def _ctyun_left(self, account, api: str, now: datetime) -> str:
        """``calls`` when the API may be called, ``nothing`` when no package was bought and
        no free quota claimed this year (the vendor answers 51002), ``used_up`` when all
        that was bought or claimed is used or expired (51003)."""

        def compute() -> str:
            state = ctyun_quota_state_now(account, api, at=now)
            if state is None or pricing.ctyun_can_call(state, at=now):
                return "calls"
            this_year = shanghai_year(now)
            held = [b.package.expires_at > now for b in state.packages] + [
                shanghai_year(b.quota.claimed_at) == this_year for b in state.free_quotas
            ]
            return "used_up" if any(held) else "nothing"

        return self._cached(self._key(account.pk, "ctyun", api), compute)

    def _effective_qps(self, account, api: str, now: datetime) -> int | None:
        value = self._cached(
            self._key(account.pk, "qps", api),
            lambda: limiter.effective_qps(account, api, at=now) or 0,
        )
        return value or None

    def _stop(self, account, api: str, now: datetime) -> dict | None:
        """The vendor stop holding ``api`` of ``account`` back at ``now``, or None."""
        stops = self._cached(
            self._key(account.pk, "stops"),
            lambda: [
                {
                    "api": stop.api,
                    "state": stop.state,
                    "until": stop.until,
                    "message": (
                        f"held back by the vendor's answer {stop.code or stop.reason}"
                        + (f" until {stop.until.isoformat()}" if stop.until else "")
                        + ": resume it once the cause is dealt with"
                    ),
                }
                for stop in vendor_stops.active_stops(account.pk, now=now)
            ],
        )
        for stop in stops:
            if stop["api"] in ("", api) and (stop["until"] is None or stop["until"] > now):
                return stop
        return None


def _refused(
    account, api: str, code: str, reason: str, *, retry_after: float | None = None
) -> RefusedLocally:
    return RefusedLocally(
        reason,
        vendor=account.vendor,
        api=api,
        code=code,
        retry_after=retry_after,
    )


def forget(account_id: int, *, store: Any = None) -> None:
    """Drop every cached fact of the account (after a purchase, a settlement, an edit)."""
    store = store if store is not None else default_cache
    key = f"gate:{account_id}:generation"
    try:
        store.incr(key)
    except ValueError:
        store.set(key, 1, timeout=None)


@receiver(post_save, sender=Package, dispatch_uid="billing.gate.package_lifts_stops")
@receiver(post_save, sender=FreeQuotaClaim, dispatch_uid="billing.gate.free_claim_lifts_stops")
def _quota_recorded(instance, **_kwargs) -> None:
    """A package bought or a free quota claimed for an API lifts the vendor's "nothing
    bought / left" stop of that API (CTYun 51001-51003)."""
    vendor_stops.lift_quota_stops(instance.account_id, instance.api)


@receiver(post_save, sender=Package, dispatch_uid="billing.gate.package_saved")
@receiver(post_delete, sender=Package, dispatch_uid="billing.gate.package_deleted")
@receiver(post_save, sender=QpsOrder, dispatch_uid="billing.gate.qps_order_saved")
@receiver(post_delete, sender=QpsOrder, dispatch_uid="billing.gate.qps_order_deleted")
@receiver(post_save, sender=AccountStatus, dispatch_uid="billing.gate.status_saved")
@receiver(post_save, sender=FreeQuotaClaim, dispatch_uid="billing.gate.free_claim_saved")
@receiver(post_delete, sender=FreeQuotaClaim, dispatch_uid="billing.gate.free_claim_deleted")
def _account_facts_changed(instance, **_kwargs) -> None:
    _forget_now_and_on_commit(instance.account_id)


@receiver(pre_save, sender="monitoring.VendorAccount", dispatch_uid="billing.gate.account_saving")
def _account_saving(instance, **_kwargs) -> None:
    instance._claim_before = (
        type(instance)
        .objects.filter(pk=instance.pk)
        .values_list("free_quota_claimed_at", flat=True)
        .first()
        if instance.pk
        else None
    )


@receiver(post_save, sender="monitoring.VendorAccount", dispatch_uid="billing.gate.account_saved")
def _account_changed(instance, **_kwargs) -> None:
    _forget_now_and_on_commit(instance.pk)
    claimed = instance.free_quota_claimed_at
    if claimed is not None and claimed != getattr(instance, "_claim_before", None):
        # A free quota claimed lifts the "nothing left" stops of the account.
        vendor_stops.lift_quota_stops(instance.pk)


@receiver(vendor_stops.holds_changed, dispatch_uid="billing.gate.holds_changed")
def _holds_changed(account_id: int, **_kwargs) -> None:
    """A vendor stop of the account opened or was lifted: its cached stops are stale."""
    _forget_now_and_on_commit(account_id)


def _forget_now_and_on_commit(account_id: int) -> None:
    # Again on commit: a check between now and the commit would cache the old facts.
    forget(account_id)
    transaction.on_commit(lambda: forget(account_id))


_gate: QuotaGate | None = None


def get_gate() -> QuotaGate:
    """This process's gate."""
    global _gate
    if _gate is None:
        _gate = QuotaGate()
    return _gate
