"""Analysis health: one answer, everywhere, to "is this analysis working, and if not,
what do I do?".

Each camera analysis has a health (stored on its ``AnalysisState``):

* ``ok``: the last call succeeded;
* ``waiting``: no frame analysed yet (or since it was resumed, or since its pause ended);
* ``failing``: calls fail; retrying may help, and the next frames try again;
* ``refused``: the product will not call: no quota, a request it cannot make (no fence
  region), credentials or a limit the vendor refused (``monitoring.vendor_stops``), a
  disabled account, arrears;
* ``paused``: held until a stated time (Baidu's daily limit: 00:00 Asia/Shanghai).

The names are a contract (API field ``health``, live event ``analysis.health``).
``health_payload`` gives ``{"state", "reason", "since", "last_success_at",
"last_error_code", "until", "stop"}`` with ``reason`` in the active language (what to do);
the API, the camera page, the live wall and ``camera.status`` all read it from here.

The pipeline reports every call's outcome with ``record_outcome``; stops report their
changes with ``refresh_account``. A change of state or reason is pushed to the site's
browsers as ``analysis.health`` (``publish_health``, the one producer).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.dispatch import receiver
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from monitoring import vendor_stops
from monitoring.analysis_models import (
    AnalysisState,
    FrameAnalysis,
    FrameAnalysisStatus,
    HealthState,
    VendorStop,
)
from monitoring.backends.stops import REASON_SCOPES

if TYPE_CHECKING:
    from alerts.events import AnalysisHealthEvent

DETAIL_LENGTH = 500
SUCCESS_SEEN_EVERY = timedelta(seconds=5)
# Gate refusals that pass by themselves: no change of health.
PASSING_REFUSALS = frozenset({"qps"})
# Gate refusals because of a vendor stop: the stop says why.
STOP_REFUSALS = frozenset({HealthState.PAUSED.value, HealthState.REFUSED.value})
NOT_WORKING = (HealthState.FAILING, HealthState.REFUSED, HealthState.PAUSED)

# What to do, per reason. Blanks: %(code)s the vendor's code, %(detail)s the error as
# received, %(until)s when a pause ends, %(seconds)s how long the vendor asked to wait.
REASONS: dict[str, Any] = {
    "": "",
    "waiting": _("No frame analysed yet: it runs on the camera's next frame."),
    "resumed": _("Resumed: it runs again on the camera's next frame."),
    "pause_over": _("The pause is over: it runs again on the camera's next frame."),
    # Vendor stops (monitoring.backends.stops)
    "daily_limit": _(
        "The vendor's daily limit for this API is reached (code %(code)s): no calls until "
        "%(until)s (00:00 Beijing time). Ask the vendor for a higher limit, or resume to "
        "try now."
    ),
    "total_limit": _(
        "The vendor's total limit for this API is reached (code %(code)s): ask the vendor "
        "to raise it, then resume."
    ),
    "no_permission": _(
        "The vendor account's application may not call this API (code %(code)s): tick the "
        "API for the application in the vendor's console, then resume the vendor account."
    ),
    "credentials": _(
        "The vendor refused the account's credentials (code %(code)s): check the keys of "
        "the vendor account, then resume it."
    ),
    "no_application": _(
        "The vendor says the account's application does not exist (code %(code)s): check "
        "the keys of the vendor account, then resume it."
    ),
    "token": _(
        "The vendor refused a new access token too (code %(code)s): check the keys of the "
        "vendor account, then resume it."
    ),
    "service_expired": _(
        "The service bought for this API has expired (code %(code)s): buy a package and "
        "record it in billing; calls start again by themselves."
    ),
    "not_bought": _(
        "This paid API is not bought (code %(code)s): buy a package and record it in "
        "billing; calls start again by themselves."
    ),
    "used_up": _(
        "No calls left for this API (code %(code)s): buy a package, or claim the free "
        "quota, and record it in billing; calls start again by themselves."
    ),
    # The product's own refusals (billing.gate, the pipeline)
    "disabled": _("The vendor account is disabled: enable it to analyse again."),
    "arrears": _(
        "The vendor account is in arrears and its free quota is used up: top the account up."
    ),
    "ctyun_quota": _(
        "No calls left in any package or in this year's free quota: buy a package, or claim "
        "the free quota, and record it in billing."
    ),
    "budget": _("Held back by a reached budget: %(detail)s"),
    "region": _("This analysis needs a fence region: draw one on the camera."),
    "unsupported": _("The vendor does not offer this: %(detail)s"),
    "refused": _("Refused before sending: %(detail)s"),
    # Failing: the next frames try again
    "rate_limited": _(
        "The vendor asks to slow down (code %(code)s): the next call waits %(seconds)s s."
    ),
    "unavailable": _("The vendor does not answer: %(detail)s. The next frames try again."),
    "bad_request": _(
        "The vendor says the request is wrong (code %(code)s): %(detail)s. Check the "
        "analysis' settings and the camera's frames."
    ),
    "failed": _("Calls fail (code %(code)s): %(detail)s. The next frames try again."),
}

# ---------------------------------------------------------------- what the pipeline reports


def record_outcome(
    analysis,
    row: FrameAnalysis,
    now: datetime,
    *,
    retry_after: float | None = None,
    error_kind: str = "",
    known: AnalysisState | None = None,
) -> bool:
    """The health after one call of ``analysis`` (its ``FrameAnalysis`` row); whether
    the state or reason changed. ``retry_after`` and ``error_kind`` come from the typed
    error, if the call raised one; ``known`` is the analysis' state row if the caller
    has it."""
    if row.status == FrameAnalysisStatus.DONE:
        return set_health(analysis, HealthState.OK, "", now=now, success=True, known=known)
    if row.status == FrameAnalysisStatus.REFUSED and row.error_code in PASSING_REFUSALS:
        return False
    stop = _stop_holding(analysis, now)
    if stop is not None:
        return _apply_stop(analysis, stop, now)
    code = row.error_code
    detail = row.error
    retry_at = None
    if row.status == FrameAnalysisStatus.REFUSED:
        # The gate's own refusals (disabled, arrears, ctyun_quota, budget): the product
        # will not call until their cause is dealt with.
        state, reason = HealthState.REFUSED, code if code in REASONS else "refused"
    elif code == "region":
        state, reason = HealthState.REFUSED, "region"
    elif error_kind == "unsupported":
        state, reason = HealthState.REFUSED, "unsupported"
    elif error_kind == "rate_limited":
        state, reason = HealthState.FAILING, "rate_limited"
    elif row.status == FrameAnalysisStatus.UNAVAILABLE:
        state, reason = HealthState.FAILING, "unavailable"
    elif error_kind in ("bad_request", "invalid_image"):
        state, reason = HealthState.FAILING, "bad_request"
    else:
        state, reason = HealthState.FAILING, "failed"
    if retry_after and state == HealthState.FAILING:
        # The vendor said when to come back: this analysis is not called before then.
        retry_at = now + timedelta(seconds=retry_after)
        if reason == "rate_limited":
            detail = f"{retry_after:.0f}"  # the reason's "%(seconds)s"
    return set_health(analysis, state, reason, detail=detail, code=code, now=now, retry_at=retry_at)


def set_health(
    analysis,
    state: str,
    reason: str,
    *,
    now: datetime,
    detail: str = "",
    code: str = "",
    until: datetime | None = None,
    success: bool = False,
    retry_at: datetime | None = None,
    known: AnalysisState | None = None,
) -> bool:
    """Store the health of ``analysis``; push ``analysis.health`` when its state, reason
    or pause end changed. Returns whether they changed. ``known``: the state row as the
    caller read it, if it did (otherwise it is read here)."""
    values: dict[str, Any] = {
        "health": state,
        "health_reason": reason,
        "health_detail": detail[:DETAIL_LENGTH],
        "paused_until": until,
        "retry_at": retry_at,
        "available": state not in NOT_WORKING,
        "reason": "" if state not in NOT_WORKING else _english(reason, detail, code, until)[:500],
    }
    if success:
        values["last_success_at"] = now
    if code or state != HealthState.OK:
        values["last_error_code"] = code[:40] if code else ""
    if state == HealthState.OK:
        values["last_error_code"] = ""
    state_row = known
    if state_row is None:
        state_row, _created = AnalysisState.objects.get_or_create(analysis_id=analysis.pk)
    last = state_row.last_success_at
    if success and last is not None and timedelta(0) <= now - last < SUCCESS_SEEN_EVERY:
        # While it keeps succeeding, "last success" is kept to within a few seconds
        # rather than written after every call.
        values["last_success_at"] = last
    changed = (
        state_row.health != state
        or state_row.health_reason != reason
        or state_row.paused_until != until
    )
    if changed:
        values["changed_at"] = now
    updates = {name: value for name, value in values.items() if getattr(state_row, name) != value}
    if updates:
        AnalysisState.objects.filter(pk=state_row.pk).update(**updates)
        for name, value in updates.items():
            setattr(state_row, name, value)
    if changed:
        publish_health(analysis, state_row, now=now)
    return changed


def _stop_holding(analysis, now: datetime) -> VendorStop | None:
    from monitoring.vendor_stops import active_stops, stop_for

    return stop_for(active_stops(analysis.account_id, now=now), analysis.api)


def _apply_stop(analysis, stop: VendorStop, now: datetime) -> bool:
    return set_health(
        analysis,
        stop.state,
        stop.reason,
        detail=stop.message,
        code=stop.code,
        until=stop.until,
        now=now,
    )


@receiver(vendor_stops.holds_changed, dispatch_uid="monitoring.analysis_health.holds_changed")
def _holds_changed(account_id: int, now: datetime | None = None, **_kwargs) -> None:
    refresh_account(account_id, now=now)


def refresh_account(account_id: int, *, now: datetime | None = None) -> None:
    """After a stop of the account opened or was lifted: every analysis it holds shows
    it; every analysis it held no more waits for its next frame."""
    from cameras.models import CameraAnalysis
    from monitoring.vendor_stops import active_stops, stop_for

    now = now or vendor_stops.clock()
    stops = active_stops(account_id, now=now)
    analyses = CameraAnalysis.objects.filter(account_id=account_id).select_related(
        "camera", "pipeline_state"
    )
    for analysis in analyses:
        stop = stop_for(stops, analysis.api)
        if stop is not None:
            _apply_stop(analysis, stop, now)
            continue
        state = getattr(analysis, "pipeline_state", None)
        if state is not None and state.health_reason in REASON_SCOPES:
            set_health(analysis, HealthState.WAITING, "resumed", now=now)


def may_call(state: AnalysisState, at: datetime) -> bool:
    """Whether the analysis may be called at ``at``: not before the vendor's
    ``retry_after``, not while a vendor stop holds it (the quota gate would refuse the
    call anyway; this spares the refused ledger rows)."""
    if state.retry_at is not None and at < state.retry_at:
        return False
    if state.health_reason in REASON_SCOPES:
        if state.health == HealthState.REFUSED:
            return False
        if state.health == HealthState.PAUSED and state.paused_until is not None:
            return at >= state.paused_until
    return True


# ---------------------------------------------------------------- what pages and the API show


def health_payload(analysis, *, now: datetime | None = None) -> dict[str, Any]:
    """``{"state", "reason", "since", "last_success_at", "last_error_code", "until",
    "stop"}`` of ``analysis``, ``reason`` in the active language. ``stop`` is what a
    resume lifts: ``"api"`` (the analysis' resume), ``"account"`` (the vendor
    account's), or None."""
    now = now or vendor_stops.clock()
    state = _state_row(analysis)
    if state is None:
        return _payload(HealthState.WAITING, "waiting", None, None, "", None, "", None)
    health, reason = state.health, state.health_reason
    until = state.paused_until
    if health == HealthState.PAUSED and until is not None and until <= now:
        health, reason, until = HealthState.WAITING, "pause_over", None
    stop = None
    if health in (HealthState.PAUSED, HealthState.REFUSED):
        stop = REASON_SCOPES.get(reason)
    return _payload(
        health,
        reason,
        state.changed_at,
        state.last_success_at,
        state.last_error_code,
        until,
        state.health_detail,
        stop,
    )


def _state_row(analysis) -> AnalysisState | None:
    try:
        return analysis.pipeline_state
    except AnalysisState.DoesNotExist:
        return None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def reason_text(reason: str, detail: str = "", code: str = "", until=None) -> str:
    """The reason in the active language."""
    template = REASONS.get(reason, REASONS["failed"])
    if not template:
        return ""
    when = ""
    if until is not None:
        local = timezone.localtime(until)
        when = local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or "")
    return str(template) % {
        "code": code or "-",
        "detail": detail or "-",
        "until": when.strip(),
        "seconds": detail or "-",
    }


def _english(reason: str, detail: str, code: str, until) -> str:
    with translation.override("en"):
        return reason_text(reason, detail, code, until)


def _payload(health, reason, since, last_success, code, until, detail, stop) -> dict[str, Any]:
    return {
        "state": str(health),
        "reason": reason_text(reason, detail, code, until),
        "since": _iso(since),
        "last_success_at": _iso(last_success),
        "last_error_code": code or None,
        "until": _iso(until),
        "stop": stop,
    }


# ---------------------------------------------------------------- the live event


def publish_health(analysis, state: AnalysisState | None = None, *, now=None) -> None:
    """``analysis.health``: the analysis' health, with its reason in every language."""
    from alerts import events

    if state is not None:
        analysis.pipeline_state = state
    events.publish_analysis_health(
        analysis.camera.site_id, analysis_health_payload(analysis, now=now)
    )


def analysis_health_payload(analysis, *, now=None) -> AnalysisHealthEvent:
    """The ``analysis.health`` event's payload (see docs/alerts.md)."""
    reasons = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            reasons[code] = health_payload(analysis, now=now)["reason"]
    with translation.override(settings.LANGUAGE_CODE):
        health = health_payload(analysis, now=now)
    health["reasons"] = reasons
    return {
        "camera": analysis.camera_id,
        "analysis": analysis.pk,
        "api": analysis.api,
        "account": analysis.account_id,
        "health": health,
    }


def camera_health(camera_id: int, *, now=None) -> list[dict[str, Any]]:
    """The health of each enabled analysis of a camera (``camera.status``)."""
    return cameras_health([camera_id], now=now).get(camera_id, [])


def cameras_health(camera_ids, *, now=None) -> dict[int, list[dict[str, Any]]]:
    """Per camera, ``[{"analysis", "api", "health"}]`` of its enabled analyses, in one
    query (the live wall's tiles)."""
    from cameras.models import CameraAnalysis

    analyses = (
        CameraAnalysis.objects.filter(camera_id__in=list(camera_ids), enabled=True)
        .select_related("pipeline_state")
        .order_by("camera_id", "api", "pk")
    )
    result: dict[int, list[dict[str, Any]]] = {}
    for item in analyses:
        result.setdefault(item.camera_id, []).append(
            {"analysis": item.pk, "api": item.api, "health": health_payload(item, now=now)}
        )
    return result
