"""The usage ledger as the metered call path writes and reads it.

Owns:

* ``record_attempt``: one ``UsageRecord`` row per vendor attempt (an HTTP request that
  left, or a call refused before leaving), idempotent on (account, request id);
  ``complete_attempt`` gives a row written ``pending`` as its request left the outcome
  that came back, and ``close_interrupted`` closes the rows whose answer never came (the
  process died with the request in flight);
* ``ledger_request_id``: the deterministic request ids a caller gets by giving a
  request-id prefix, so that a re-run task records the same attempts under the same ids;
* what an account has left right now, for the gate and the limiter: Baidu's free trial
  quota (``baidu_free_quota_left``) and a CTYun API's packages and free quota
  (``ctyun_quota_state_now``), replayed with ``billing.pricing``'s own rules over the
  account's hourly usage (``billing.rollup.hourly_usage``: rollups for settled hours, the
  ledger for the hours not rolled up yet, so the current hour counts too) and the same
  free quotas, packages and orders the bills use (``billing.bills``).

The ledger rows are the ground truth of what was called; rollups and bills are derived
from them elsewhere.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from billing import facts, plans, pricing, rollup
from billing.models import Outcome, Package, QpsOrder, UsageRecord
from billing.pricing.calendar import utc_hour_start
from monitoring.backends.base import Attempt

logger = logging.getLogger(__name__)

# UsageRecord.request_id and UsageRecord.error_code column widths.
REQUEST_ID_MAX = 100
ERROR_CODE_MAX = 40
# A request still pending this long after its attempt started will not be answered any
# more: an account's longest connect timeout (120 s) plus twice its longest read timeout
# (600 s, applied to each read), plus the quota gate's wait, stay well under it.
PENDING_GRACE = timedelta(hours=1)
# The error code of a request closed by ``close_interrupted``.
INTERRUPTED = "interrupted"


def record_attempt(account_id: int, attempt: Attempt, *, camera_id: int | None = None) -> bool:
    """Write the ledger row of one attempt; True when the row is new.

    The row is keyed by (account, ``attempt.request_id``): recording the same attempt
    again (a re-run task with deterministic request ids, a retried write) adds nothing.
    Inside a transaction the insert runs in its own savepoint, so a concurrent writer of
    the same key makes this one return False instead of failing; outside, the insert is
    a statement of its own (one round trip, nothing to roll back).
    """
    if not attempt.request_id:
        raise ValueError("an attempt needs a request id to be recorded")
    if len(attempt.request_id) > REQUEST_ID_MAX:
        raise ValueError(f"request id longer than {REQUEST_ID_MAX} characters")
    if attempt.outcome not in Outcome.values:
        raise ValueError(f"unknown outcome {attempt.outcome!r}; known: {Outcome.values}")
    row = UsageRecord(
        account_id=account_id,
        api=attempt.api,
        camera_id=camera_id,
        request_id=attempt.request_id,
        occurred_at=datetime.fromtimestamp(attempt.started_at, UTC),
        latency_ms=attempt.latency_ms,
        outcome=attempt.outcome,
        error_code=(attempt.error_code or "")[:ERROR_CODE_MAX],
        images=max(1, attempt.images),
    )
    try:
        if connection.in_atomic_block:
            with transaction.atomic():
                row.save(force_insert=True)
        else:
            row.save(force_insert=True)
    except IntegrityError:
        if UsageRecord.objects.filter(
            account_id=account_id, request_id=attempt.request_id
        ).exists():
            return False
        raise
    return True


def complete_attempt(account_id: int, attempt: Attempt, *, camera_id: int | None = None) -> bool:
    """Give the row recorded ``pending`` under ``attempt.request_id`` its outcome (also
    when ``close_interrupted`` had closed it meanwhile: the answer came after all); when
    there is no such row (writing it failed), record the attempt. True when a row was
    completed or added. A completed row is rolled up again (``rolled_up`` cleared)."""
    if attempt.outcome == Outcome.PENDING:
        raise ValueError("an attempt is completed with its outcome, not 'pending'")
    open_rows = Q(outcome=Outcome.PENDING) | Q(
        outcome=Outcome.TRANSPORT_ERROR, error_code=INTERRUPTED
    )
    completed = (
        UsageRecord.objects.filter(account_id=account_id, request_id=attempt.request_id)
        .filter(open_rows)
        .update(
            outcome=attempt.outcome,
            latency_ms=attempt.latency_ms,
            error_code=(attempt.error_code or "")[:ERROR_CODE_MAX],
            rolled_up=False,
        )
    )
    if completed:
        return True
    return record_attempt(account_id, attempt, camera_id=camera_id)


def close_interrupted(now: datetime | None = None, *, grace: timedelta = PENDING_GRACE) -> int:
    """Close the rows still ``pending`` ``grace`` after their request left: the process
    that sent it died before the answer came. They become transport errors with code
    ``interrupted`` (no answer was seen: not billed, like any transport error, see
    ``billing.rollup``) and are rolled up again. Returns how many."""
    now = now or timezone.now()
    return UsageRecord.objects.filter(outcome=Outcome.PENDING, occurred_at__lt=now - grace).update(
        outcome=Outcome.TRANSPORT_ERROR, error_code=INTERRUPTED, rolled_up=False
    )


def ledger_request_id(
    prefix: str, api: str, batch: int | str, attempt: int, *, refused: bool = False
) -> str:
    """The ledger id of attempt number ``attempt`` of request ``batch`` of one call
    (``"0.1"``, ``"0.2"``...: the second, third... request of the same API within
    request 0, when one request of the call is made of several).

    ``f"{prefix}:{api}:{batch}:{attempt}"``, where the caller picks ``prefix`` so that it
    names one unit of work, e.g. ``f"frame-{frame_id}"``: a task re-run for that frame
    then records its attempts under the same ids, and nothing twice. A refused attempt
    gets ``:refused`` appended: no request left, so it must not take the id of the real
    request a later run makes. Ids longer than the column are shortened by hashing the
    prefix.
    """
    suffix = f":{api}:{batch}:{attempt}" + (":refused" if refused else "")
    request_id = f"{prefix}{suffix}"
    if len(request_id) <= REQUEST_ID_MAX:
        return request_id
    digest = hashlib.sha256(prefix.encode("utf-8")).hexdigest()[:40]
    return f"h{digest}{suffix}"[:REQUEST_ID_MAX]


# ---------------------------------------------------------------- what is left


def usage_of(account, api: str, start: datetime, end: datetime) -> list[pricing.HourlyUsage]:
    """The hourly usage of one API in the hours starting in [start's hour, end),
    the current hour included (successes, and failures the vendor answered)."""
    rows = rollup.hourly_usage(account, utc_hour_start(start), end)
    return [row for row in rows if row.api == api]


def _replay_start(records, at: datetime) -> datetime:
    """Where a replay up to ``at`` must start so that every free quota or package in force
    at some point of the replay is seen from its start (its use is then counted whole)."""
    start = at
    changed = True
    while changed:
        changed = False
        for record in records:
            acquired = (
                record.purchased_at
                if isinstance(record, pricing.CountPackage)
                else record.claimed_at
            )
            if acquired < start < record.expires_at:
                start, changed = acquired, True
    return start


def free_quotas_for(account, api: str) -> list[pricing.FreeQuota]:
    """The account's free quotas of ``api`` as the bills see them (CTYun: one per year
    claimed), oldest first."""
    try:
        quotas = facts.free_quotas_of(account)
    except pricing.PricingError:
        return []
    return sorted((quota for quota in quotas if quota.api == api), key=lambda q: q.claimed_at)


def free_quota_of(account, api: str) -> pricing.FreeQuota | None:
    """The account's (Baidu, one-off) free quota of ``api``, if one was claimed."""
    return next(iter(free_quotas_for(account, api)), None)


def baidu_free_quota_left(account, api: str, *, at: datetime) -> int:
    """Calls of ``api`` left in the account's Baidu free trial quota at ``at``.

    ``免费测试资源``: claimed once, valid 365 days, sized by certification, consumed by
    successful and failed calls alike ("成功调用与失败调用均消耗免费测试量"); while a QPS
    order is in force the calls are the order's and the free quota is left alone
    (``pricing.baidu_allocate_hours``). 0 when nothing was claimed, the claim has expired,
    or the plan does not price ``api``.
    """
    quota = free_quota_of(account, api)
    if quota is None or not quota.claimed_at <= at < quota.expires_at:
        return 0
    plan = plans.plan_at("baidu", at)
    orders = [
        facts.pricing_qps_order(o)
        for o in QpsOrder.objects.filter(account=account, api=api, expires_at__gt=quota.claimed_at)
    ]
    usage = usage_of(account, api, quota.claimed_at, at)
    try:
        _, carry = pricing.baidu_allocate_hours(
            usage, plan=plan, until=at, free_quotas=[quota], qps_orders=orders
        )
    except pricing.PricingError:
        return 0
    return max(0, quota.calls - carry.free_used.get(quota.id, 0))


def ctyun_quota_state_now(account, api: str, *, at: datetime) -> pricing.CtyunQuotaState | None:
    """What one CTYun API of the account has left at ``at``: its packages and the free
    quotas claimed for it (each valid for the calendar year of its claim, "当年有效，过期作废",
    ``3.1 计费模式``), less the successful calls made, consumed in the
    seed's order (``5.1 计费类``, by ``pricing.ctyun_allocate_hours``). None when the plan
    does not know ``api`` (the client refuses unknown APIs itself)."""
    plan = plans.plan_at("ctyun", at)
    try:
        if not plan.is_metered(api):
            return pricing.CtyunQuotaState(api=api, metered=False)
    except pricing.PricingError:
        return None
    packages = [
        facts.pricing_package(p)
        for p in Package.objects.filter(account=account, api=api, purchased_at__lte=at)
    ]
    quotas = [quota for quota in free_quotas_for(account, api) if quota.claimed_at <= at]
    start = _replay_start([*packages, *quotas], at)
    usage = usage_of(account, api, start, at)
    _, carry = pricing.ctyun_allocate_hours(
        usage, plan=plan, until=at, free_quotas=quotas, packages=packages
    )
    return pricing.ctyun_quota_state(
        plan, api, packages=packages, free_quotas=quotas, carried=carry
    )


def ctyun_free_quota_left(state: pricing.CtyunQuotaState, *, at: datetime) -> int:
    """Calls left in the free quotas of a CTYun quota state that are in force at ``at``."""
    return sum(
        b.remaining
        for b in state.free_quotas
        if b.quota.claimed_at <= at < b.quota.expires_at and b.remaining > 0
    )
