"""Vendor stops: the vendors' "stop calling" answers, held in the database.

``record_error(account, api, error)`` is called by the metered path with every typed
error a vendor call ends with; when ``monitoring.backends.stops.stop_rule`` says the
answer stops calls, a ``VendorStop`` row holds them back: that API of the account, or
every API of it. The quota gate (``billing.gate``) asks ``active_stops`` before any
request leaves, so no call leaves while a stop is active, from any process or host.

A stop ends:

* at its ``until`` (Baidu 17: 00:00 Asia/Shanghai): the gate lets calls through again by
  itself; the row is closed (``lifted_how="time"``) when a new stop of the same API comes;
* when an admin resumes it (``resume``: the camera analysis' button and API action lift
  the stop of its API, the vendor account's lift every stop of the account);
* for CTYun's 51001/51002/51003, when a package or quota is recorded for that API
  (``lift_quota_stops``, called when a package is saved or a free quota is claimed).

An account-wide stop is told to the account's admins: a line in the log (``ERROR``) and a
banner on every page of users who configure sites (``account_stops_for``), with the
account's resume button. Every change of a stop sends ``holds_changed`` (a Django
signal, ``account_id=`` and ``now=``): the gate drops its cached facts
(``billing.gate``) and the health of the analyses it holds is brought up to date, with
``analysis.health`` pushed (``monitoring.analysis_health``). This module imports neither.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.dispatch import Signal
from django.utils import timezone

from monitoring.analysis_models import VendorStop
from monitoring.backends.base import BackendError
from monitoring.backends.stops import SCOPE_ACCOUNT, StopRule, stop_rule

logger = logging.getLogger(__name__)

# Sent after a stop of an account opened or was lifted, or an analysis was resumed.
holds_changed = Signal()

LIFTED_BY_TIME = "time"
LIFTED_BY_RESUME = "resume"
LIFTED_BY_QUOTA = "quota"


def clock() -> datetime:
    """The present, as stops start and end by it (tests move it)."""
    return timezone.now()


def active_q(now: datetime) -> Q:
    return Q(lifted_at__isnull=True) & (Q(until__isnull=True) | Q(until__gt=now))


def active_stops(account_id: int, *, now: datetime | None = None) -> list[VendorStop]:
    """The account's stops in force at ``now``, account-wide first."""
    now = now or clock()
    return list(
        VendorStop.objects.filter(active_q(now), account_id=account_id).order_by("api", "pk")
    )


def stops_by_account(account_ids, *, now: datetime | None = None) -> dict[int, list]:
    """The stops in force of each account, in one query (the accounts page)."""
    now = now or clock()
    result: dict[int, list[VendorStop]] = {}
    stops = VendorStop.objects.filter(active_q(now), account_id__in=list(account_ids))
    for stop in stops.order_by("api", "pk"):
        result.setdefault(stop.account_id, []).append(stop)
    return result


def stop_for(stops: list[VendorStop], api: str) -> VendorStop | None:
    """The stop among ``stops`` that holds ``api`` back (an account-wide one first)."""
    for stop in stops:
        if stop.api in ("", api):
            return stop
    return None


def record_error(account, api: str, error: BackendError, *, now: datetime | None = None):
    """Hold calls back as the vendor's ``error`` asks, if it does; the stop, or None."""
    rule = stop_rule(error)
    if rule is None:
        return None
    return record(account, api, rule, code=str(error.code or ""), message=str(error), now=now)


def record(
    account, api: str, rule: StopRule, *, code: str = "", message: str = "", now=None
) -> VendorStop:
    """Open (or renew) the stop ``rule`` describes for ``api`` of ``account``."""
    now = now or clock()
    target = "" if rule.scope == SCOPE_ACCOUNT else api
    values = {
        "state": rule.state,
        "lift": rule.lift,
        "reason": rule.reason,
        "code": code[:40],
        "message": message[:500],
        "started_at": now,
        "until": rule.until(now),
    }
    stop = None
    for _attempt in range(3):
        try:
            with transaction.atomic():
                # A stop whose time passed is over: close it so that a new one can open.
                VendorStop.objects.filter(
                    account_id=account.pk, api=target, lifted_at__isnull=True, until__lte=now
                ).update(lifted_at=now, lifted_how=LIFTED_BY_TIME)
                stop = (
                    VendorStop.objects.select_for_update()
                    .filter(account_id=account.pk, api=target, lifted_at__isnull=True)
                    .first()
                )
                if stop is None:
                    stop = VendorStop.objects.create(account_id=account.pk, api=target, **values)
                else:
                    for name, value in values.items():
                        if name != "started_at":
                            setattr(stop, name, value)
                    stop.save()
            break
        except IntegrityError:  # opened meanwhile by another process: renew that one
            continue
    if stop is None:
        raise RuntimeError(f"vendor stop of account {account.pk} {target!r}: not recorded")
    if rule.scope == SCOPE_ACCOUNT:
        # Telling the account's admins: this line, and the banner of ``account_stops_for``.
        logger.error(
            "vendor account %s (%s) stopped: every API held back until an admin resumes it "
            "(vendor code %s: %s)",
            account.pk,
            account.name,
            code,
            message,
        )
    else:
        logger.warning(
            "vendor account %s: %s %s (vendor code %s) until %s",
            account.pk,
            api,
            rule.state,
            code,
            stop.until.isoformat() if stop.until else "an admin resumes it",
        )
    _changed(account.pk, now)
    return stop


def resume(account_id: int, *, api: str | None = None, user=None, now=None) -> int:
    """Lift the open stops of the account: those of ``api`` only (not the account-wide
    one), or every one when ``api`` is None. Returns how many were lifted."""
    stops = VendorStop.objects.filter(account_id=account_id, lifted_at__isnull=True)
    if api is not None:
        stops = stops.filter(api=api)
    return _lift(stops, LIFTED_BY_RESUME, account_id, user=user, now=now)


def resume_analysis(analysis, *, user=None, now=None) -> int:
    """An admin resumes one analysis: the stop of its API on its account is lifted, and
    it no longer waits for a ``retry_after``. Returns how many stops were lifted."""
    from monitoring.analysis_models import AnalysisState

    now = now or clock()
    AnalysisState.objects.filter(analysis_id=analysis.pk).update(retry_at=None)
    lifted = resume(analysis.account_id, api=analysis.api, user=user, now=now)
    if not lifted:
        holds_changed.send(sender=VendorStop, account_id=analysis.account_id, now=now)
    return lifted


def lift_quota_stops(account_id: int, api: str | None = None, *, now=None) -> int:
    """A package or quota was recorded: lift the stops it answers (CTYun 51001-51003)."""
    stops = VendorStop.objects.filter(
        account_id=account_id, lifted_at__isnull=True, lift=LIFTED_BY_QUOTA
    )
    if api is not None:
        stops = stops.filter(api=api)
    return _lift(stops, LIFTED_BY_QUOTA, account_id, now=now)


def _lift(stops, how: str, account_id: int, *, user=None, now=None) -> int:
    now = now or clock()
    count = stops.update(
        lifted_at=now, lifted_how=how, lifted_by=user if user is not None else None
    )
    if count:
        logger.info("vendor account %s: %s stop(s) lifted (%s)", account_id, count, how)
        _changed(account_id, now)
    return count


def account_stops_for(user, *, now: datetime | None = None) -> list[VendorStop]:
    """The account-wide stops in force that ``user`` is told of (page banner)."""
    from cameras import roles

    if not getattr(user, "is_authenticated", False) or not user.has_perm(roles.CONFIGURE):
        return []
    from monitoring.models import editable_accounts

    now = now or clock()
    return list(
        VendorStop.objects.filter(
            active_q(now), api="", account__in=editable_accounts(user).values("pk")
        )
        .select_related("account")
        .order_by("account__name")
    )


def _changed(account_id: int, now: datetime) -> None:
    """Tell the gate and the analyses' health (``holds_changed``)."""
    holds_changed.send(sender=VendorStop, account_id=account_id, now=now)
